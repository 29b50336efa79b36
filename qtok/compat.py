"""tiktoken's less common Encoding methods, with tiktoken's results.

``encode_with_unstable``, ``_encode_bytes``, ``_encode_single_piece`` and
``_encode_only_native_bpe`` follow tiktoken's own definitions step by step
(its ``src/lib.rs``), so that code written for them gets the same ids.  They
are rarely on a hot path, so they are written in Python over the core's
single-piece BPE.  The tests compare each with tiktoken on the same inputs.
"""
from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from ._bpe import split_pieces

if TYPE_CHECKING:
    from .core import Encoding


def encode_single_piece(enc: "Encoding", text_or_bytes: str | bytes) -> list[int]:
    """BPE of the whole input as one piece, no pattern split, no special tokens."""
    if isinstance(text_or_bytes, str):
        text_or_bytes = text_or_bytes.encode("utf-8")
    return enc._core.encode_single_piece(bytes(text_or_bytes))


def encode_only_native_bpe(enc: "Encoding", text: str) -> list[int]:
    """Split text into the pattern's pieces, then BPE each (as encode_ordinary)."""
    out: list[int] = []
    for piece in split_pieces(enc._prepare(text)):
        out += enc._core.encode_single_piece(piece.encode("utf-8"))
    return out


def _all_space(enc: "Encoding", token: int) -> bool:
    data = enc._core.token_bytes(token)
    return all(b in b" \n\t" for b in data)


def _last_piece(enc: "Encoding", plan) -> tuple[list[int], int]:
    """The ids of a plan (Encoding._plan) and how many of them the last piece
    gave (0 when the text ends with a special token), as tiktoken's
    _encode_native returns them."""
    tokens = enc._encode_plan(plan)
    last = plan if isinstance(plan, str) else plan[-1] if plan else ""
    if not isinstance(last, str) or not last:
        return tokens, 0
    pieces = split_pieces(last)
    return tokens, len(enc._core.encode_single_piece(pieces[-1].encode("utf-8")))


def _widen_over_spaces(enc: "Encoding", tokens: list[int], last_len: int) -> int:
    """tiktoken's _increase_last_piece_token_len: a last piece that is all
    spaces takes in the all-space tokens before it too (the pattern's
    whitespace splits are not stable when text is appended)."""
    if last_len > 0 and _all_space(enc, tokens[len(tokens) - last_len]):
        while last_len < len(tokens) and _all_space(enc, tokens[len(tokens) - last_len - 1]):
            last_len += 1
    return last_len


def encode_bytes(enc: "Encoding", data: bytes) -> list[int]:
    """Ids of bytes that may not be valid UTF-8 (tiktoken's _encode_bytes).
    The text is taken as given: no normalization, as bytes have no NFC."""
    data = bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        valid = exc.start
    else:
        return enc._core.encode_ordinary(text)
    text = data[:valid].decode("utf-8")
    tokens, last_len = _last_piece(enc, text)
    last_len = _widen_over_spaces(enc, tokens, last_len)
    if tokens and last_len > 0:
        unstable = enc._core.decode_bytes(tokens[len(tokens) - last_len:]) + data[valid:]
        del tokens[len(tokens) - last_len:]
    else:
        unstable = data[valid:]
    if unstable:
        tokens += enc._core.encode_single_piece(unstable)
    return tokens


def encode_with_unstable(enc: "Encoding", text: str, allowed_special, disallowed_special
                         ) -> tuple[list[int], list[list[int]]]:
    """tiktoken's encode_with_unstable: the stable ids, and the id sequences
    the text's end could continue as."""
    plan = enc._plan(text, allowed_special, disallowed_special)
    tokens, last_len = _last_piece(enc, plan)
    if last_len == 0:
        return tokens, []
    last_len = _widen_over_spaces(enc, tokens, last_len)
    unstable = enc._core.decode_bytes(tokens[len(tokens) - last_len:])
    del tokens[len(tokens) - last_len:]
    completions: set[tuple[int, ...]] = set()
    if not unstable:
        return tokens, []
    sorted_tokens = enc._sorted_token_bytes
    ranks = enc._mergeable_ranks
    # Every single token that starts with the unstable bytes.
    point = bisect.bisect_left(sorted_tokens, unstable)
    while point < len(sorted_tokens) and sorted_tokens[point].startswith(unstable):
        completions.add((ranks[sorted_tokens[point]],))
        point += 1
    # A token that straddles the end at each other place: the bytes before
    # it, then the token, encoded again, as far as the unstable bytes reach.
    for i in range(1, len(unstable)):
        prefix, suffix = unstable[:i], unstable[i:]
        point = bisect.bisect_left(sorted_tokens, suffix)
        while point < len(sorted_tokens) and sorted_tokens[point].startswith(suffix):
            possibility = prefix + sorted_tokens[point]
            try:
                encoded = enc._core.encode_ordinary(possibility.decode("utf-8"))
            except UnicodeDecodeError:
                encoded = enc._core.encode_single_piece(possibility)
            seq: list[int] = []
            seq_len = 0
            for token in encoded:
                seq.append(token)
                seq_len += len(enc._core.token_bytes(token))
                if seq_len >= len(unstable):
                    break
            completions.add(tuple(seq))
            point += 1
    # A whitespace character at the end may split off when text follows.
    if len(unstable) > 1:
        last_char_len = _last_char_length(unstable)
        if len(unstable) - last_char_len > 0 and unstable[-last_char_len:].decode(
                "utf-8", "replace").isspace():
            again = (enc._core.encode_single_piece(unstable[:-last_char_len])
                     + enc._core.encode_single_piece(unstable[-last_char_len:]))
            completions.add(tuple(again))
    return tokens, [list(c) for c in completions]


def _last_char_length(data: bytes) -> int:
    """Bytes of the last UTF-8 character of data (1 for a stray byte)."""
    for back in range(1, min(4, len(data)) + 1):
        if data[-back] & 0xC0 != 0x80:
            lead = data[-back]
            need = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            return back if need == back else 1
    return 1
