"""Decoding while a model generates: text out as soon as it forms characters.

    dec = enc.decode_stream(skip_special_tokens=False)
    for token in generated:
        piece = dec.step(token)          # str, or None while a character is incomplete
        if piece is not None:
            print(piece, end="", flush=True)
    print(dec.flush(), end="")           # what an unfinished character left, if anything

A token is a few bytes, and a character may span tokens (Chinese, emoji, byte
fragments), so a step returns text only when the bytes gathered so far decode
to something that does not end in U+FFFD -- the same rule as Hugging Face's
``tokenizers.decoders.DecodeStream``, so the steps return what it returns.
Only the bytes not returned yet are kept: at most one incomplete character,
or a short run of bytes that are not UTF-8, so a step costs the same however
long the stream is.  Joined, the steps and ``flush()`` equal ``decode(ids)``.
"""
from __future__ import annotations

#: Undecodable bytes held back at most, waiting for a character to complete.
#: Hugging Face holds them as long as the text ends in U+FFFD; past this many,
#: a step returns them as U+FFFD so that a stream of garbage stays O(1) a step.
MAX_PENDING = 64

_UTF8_REPLACEMENT = "\ufffd"


class DecodeStream:
    """Incremental decoder of one stream of ids; see the module docstring.

    Made by ``Encoding.decode_stream``.  Not safe to share between threads
    (each stream has its own pending bytes); an Encoding may have any number.
    """

    __slots__ = ("_token_bytes", "_skip", "_pending")

    def __init__(self, token_bytes, skip_ids: frozenset[int]):
        self._token_bytes = token_bytes      # id -> bytes; raises InvalidToken
        self._skip = skip_ids
        self._pending = b""

    def step(self, token: int) -> str | None:
        """The new text that token completes, or None if there is none yet."""
        piece = self._token_bytes(token)
        if token in self._skip:
            return None
        pending = self._pending + piece
        text = pending.decode("utf-8", "replace")
        if not text:
            return None
        if text.endswith(_UTF8_REPLACEMENT):
            if len(pending) <= MAX_PENDING:
                self._pending = pending
                return None
            # Too much that is not UTF-8: give back all but an incomplete
            # character at the end, which may still complete.
            keep = _incomplete_tail(pending)
            self._pending = pending[len(pending) - keep:]
            return pending[:len(pending) - keep].decode("utf-8", "replace")
        self._pending = b""
        return text

    def flush(self) -> str:
        """Whatever is pending, decoded with U+FFFD for what is incomplete;
        the stream then starts afresh."""
        text = self._pending.decode("utf-8", "replace")
        self._pending = b""
        return text

    @property
    def pending(self) -> bytes:
        """The bytes received but not returned yet."""
        return self._pending


def _incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of data are the start of a UTF-8 character
    that more bytes could complete (0 to 3)."""
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return 0
        if byte >= 0xC0:                     # a lead byte: how long its character is
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back if need > back else 0
    return 0
