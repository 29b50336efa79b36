"""qtok's code point classes agree with tiktoken's regex engine everywhere.

The scanner decides letter / number / whitespace from a table
(``qtok._bpe.code_point_class``: bit 1 ``\\p{L}``, bit 2 ``\\p{N}``, bit 4
``\\s``).  Here every code point 0..0x10FFFF except the surrogates is
classified by tiktoken's own regex engine and compared with that table.

How tiktoken is asked: an Encoding whose pattern is a single class (say
``\\p{L}``) and whose vocabulary is the 256 single bytes.  tiktoken only
encodes the characters its pattern matches and drops the rest, so the bytes
it returns, decoded, are exactly the members of the class.  The code points
go in chunks of 64K per call.  The complement class (``\\P{L}``) is probed
the same way: the two must split the code points between them, which shows
the probe really saw every character (nothing lost at chunk ends, no
character silently dropped by the engine).
"""
from __future__ import annotations

import unicodedata

import pytest

from qtok._bpe import _code_point_class as code_point_class

LETTER, NUMBER, SPACE = 1, 2, 4
CLASSES = [
    pytest.param(LETTER, r"\p{L}", r"\P{L}", id="letter"),
    pytest.param(NUMBER, r"\p{N}", r"\P{N}", id="number"),
    pytest.param(SPACE, r"\s", r"\S", id="whitespace"),
]
ALL_CODE_POINTS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
CHUNK = 1 << 16


def tiktoken_members(pattern: str) -> set[int]:
    """The code points tiktoken's regex engine matches with ``pattern``."""
    import tiktoken
    probe = tiktoken.Encoding(name="class-probe", pat_str=pattern,
                              mergeable_ranks={bytes([b]): b for b in range(256)},
                              special_tokens={})
    members: set[int] = set()
    for start in range(0, len(ALL_CODE_POINTS), CHUNK):
        chunk = "".join(map(chr, ALL_CODE_POINTS[start:start + CHUNK]))
        matched = bytes(probe.encode_ordinary(chunk)).decode("utf-8")
        members.update(map(ord, matched))
    return members


def describe(cps: list[int]) -> str:
    return ", ".join(f"U+{cp:04X} {unicodedata.name(chr(cp), '?')}" for cp in cps[:10])


@pytest.fixture(scope="module")
def qtok_classes() -> bytes:
    """code_point_class of every code point, indexed by code point."""
    return bytes(code_point_class(cp) for cp in range(0x110000))


@pytest.mark.slow
@pytest.mark.parametrize("bit, pattern, complement", CLASSES)
def test_every_code_point(bit, pattern, complement, qtok_classes):
    inside = tiktoken_members(pattern)
    outside = tiktoken_members(complement)
    assert not inside & outside, f"{pattern} and {complement} overlap: {describe(sorted(inside & outside))}"
    assert len(inside) + len(outside) == len(ALL_CODE_POINTS), "the probe lost code points"

    ours = {cp for cp in ALL_CODE_POINTS if qtok_classes[cp] & bit}
    missing = sorted(inside - ours)
    extra = sorted(ours - inside)
    assert not missing, f"{len(missing)} code points in {pattern} but not in qtok's table: {describe(missing)}"
    assert not extra, f"{len(extra)} code points in qtok's table but not in {pattern}: {describe(extra)}"


def test_only_known_bits(qtok_classes):
    # Bits other than the three would be read by nothing and mean a stale table.
    assert not any(c & ~(LETTER | NUMBER | SPACE) for c in qtok_classes)


def test_classes_are_disjoint(qtok_classes):
    # \p{L}, \p{N} and \s are disjoint in Unicode; the scanner's order of
    # alternatives relies on that (a letter is never also a digit).
    overlapping = [cp for cp in ALL_CODE_POINTS if bin(qtok_classes[cp]).count("1") > 1]
    assert not overlapping, describe(overlapping)


def test_out_of_range_code_point():
    with pytest.raises(ValueError, match="1114112"):
        code_point_class(0x110000)
    with pytest.raises(OverflowError):
        code_point_class(-1)
