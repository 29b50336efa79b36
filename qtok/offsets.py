"""Character offsets of tokens in the caller's text, as Hugging Face gives them.

``Encoding.encode_with_offsets(text)`` returns, per token, the span
``(start, end)`` of characters of the original ``text`` that the token's
bytes come from: a token holding part of a character gets that whole
character, and a token after normalization changed the text points back into
the text as given.  The spans equal Hugging Face ``tokenizers``'
``Encoding.offsets`` on the same text, including its convention for
characters that NFC composes: the composed character points at the first of
the characters it was made from, and what follows counts on from there
(``"e\\u0301te"``: ``é`` is (0, 1), ``te`` is (2, 4)).

How NFC moves characters is replayed here character by character
(decompose, reorder marks, compose), keeping for each output character how
many input characters it stands for.  Text that is NFC already, nearly all
text, skips that and maps one to one.
"""
from __future__ import annotations

import numpy as np

from ._nfc import combining, composite, is_nfc, nfd, to_nfc


def nfc_alignment(text: str) -> tuple[str, np.ndarray, np.ndarray]:
    """NFC of text, and for each of its characters the span (starts[i],
    ends[i]) of text it aligns to, by Hugging Face's rule."""
    if is_nfc(text):
        starts = np.arange(len(text), dtype=np.int64)
        return text, starts, starts + 1
    chars, changes = _decompose(text)
    _reorder(chars, changes)
    chars, changes = _compose(chars, changes)
    normalized = "".join(chars)
    if normalized != to_nfc(text):
        # Not expected; should the replay ever disagree with the normalizer,
        # every character points at the whole text rather than wrong.
        normalized = to_nfc(text)
        return (normalized, np.zeros(len(normalized), dtype=np.int64),
                np.full(len(normalized), len(text), dtype=np.int64))
    starts = np.empty(len(chars), dtype=np.int64)
    ends = np.empty(len(chars), dtype=np.int64)
    pos = 0
    for i, change in enumerate(changes):
        if change > 0:                      # an inserted character: its origin's span
            starts[i], ends[i] = max(pos - 1, 0), max(pos, 1)
        else:                               # it stands for 1 - change input characters
            starts[i], ends[i] = pos, pos + 1
            pos += 1 - change
    return normalized, starts, ends


def _decompose(text: str) -> tuple[list[str], list[int]]:
    """Full canonical decomposition, each output character with its change:
    0 for the first character of an input character's decomposition, +1 for
    each one after it."""
    chars: list[str] = []
    changes: list[int] = []
    for ch in text:
        parts = nfd(ch)
        chars.append(parts[0])
        changes.append(0)
        for part in parts[1:]:
            chars.append(part)
            changes.append(1)
    return chars, changes


def _reorder(chars: list[str], changes: list[int]) -> None:
    """Canonical ordering: each run of combining marks sorted (stably) by
    combining class; changes move with their characters."""
    i, n = 0, len(chars)
    while i < n:
        if combining(chars[i]) == 0:
            i += 1
            continue
        j = i
        while j < n and combining(chars[j]) != 0:
            j += 1
        if j - i > 1:
            run = sorted(zip(chars[i:j], changes[i:j]), key=lambda c: combining(c[0]))
            chars[i:j] = [c for c, _ in run]
            changes[i:j] = [d for _, d in run]
        i = j


def _compose(chars: list[str], changes: list[int]) -> tuple[list[str], list[int]]:
    """Canonical composition; a character absorbed into its starter leaves
    the starter's change lower by one (plus whatever change it had)."""
    out: list[str] = []
    out_changes: list[int] = []
    starter = -1                # index in out of the last starter
    last_class = 0              # combining class of the last character kept
    for ch, change in zip(chars, changes):
        cls = combining(ch)
        if starter >= 0 and (last_class < cls or (last_class == 0 and starter == len(out) - 1)):
            joined = composite(out[starter], ch)
            if joined is not None:
                out[starter] = joined
                out_changes[starter] += change - 1
                continue
        if cls == 0:
            starter = len(out)
        last_class = cls
        out.append(ch)
        out_changes.append(change)
    return out, out_changes


def token_spans(norm: str, starts: np.ndarray, ends: np.ndarray, token_lengths: np.ndarray,
                shift: int) -> list[tuple[int, int]]:
    """The original-text span of each token of ``norm`` (whose tokens have
    token_lengths bytes each, in order), shifted by ``shift`` characters."""
    if len(token_lengths) == 0:
        return []
    code_points = np.frombuffer(norm.encode("utf-32-le"), dtype="<u4")
    widths = (1 + (code_points >= 0x80) + (code_points >= 0x800)
              + (code_points >= 0x10000)).astype(np.int64)
    char_ends = np.cumsum(widths)                    # byte after each character
    token_ends = np.cumsum(token_lengths.astype(np.int64))
    token_starts = token_ends - token_lengths
    first = np.searchsorted(char_ends, token_starts, side="right")
    last = np.searchsorted(char_ends, token_ends - 1, side="right")
    span_starts = starts[first] + shift
    span_ends = ends[last] + shift
    return list(zip(span_starts.tolist(), span_ends.tolist()))
