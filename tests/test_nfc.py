"""qtok._nfc.is_nfc: may say "not known", must never say NFC wrongly.

A wrong True would skip a normalization that changes the text: the ids
would then differ from Qwen's.  So every test here holds the check to
``unicodedata.normalize`` itself, on every code point, every pair that
composes, and many random strings built from the characters that make NFC
hard (marks, precomposed letters, vowel signs that join, Hangul jamo).
"""
from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus_files import BUNDLED_FILES, LEIPZIG_FILES, UDHR_FILES, file_params, read_lines
import qtok._nfc
from qtok import normalize
from qtok._nfc import UNIDATA_VERSION, _is_inert, is_nfc


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def composing_pairs() -> list[tuple[str, str]]:
    """Every (first, second) that NFC joins into one character, from
    unicodedata's decompositions (not from qtok's table)."""
    pairs = []
    for x in range(0x110000):
        d = unicodedata.decomposition(chr(x))
        if d and not d.startswith("<") and len(d.split()) == 2:
            a, b = (chr(int(p, 16)) for p in d.split())
            if nfc(a + b) == chr(x):
                pairs.append((a, b))
    return pairs


#: Characters that make NFC interesting: marks, anything with a canonical
#: decomposition, the second halves of composing pairs, Hangul jamo; plus
#: some plain letters of several scripts for them to follow.
HARD = sorted({chr(x) for x in range(0x110000) if not 0xD800 <= x <= 0xDFFF and (
    unicodedata.combining(chr(x))
    or (unicodedata.decomposition(chr(x)) and not unicodedata.decomposition(chr(x)).startswith("<"))
    or 0x1100 <= x <= 0x11FF)} | {b for _, b in composing_pairs()})
PLAIN = list("aeiouyAEIOUnkgsz ") + [chr(x) for x in (0x995, 0x9AE, 0x915, 0x928, 0x627, 0x648,
                                                       0x3B1, 0x3C9, 0x430, 0x4E2D, 0xAC00, 0xB2E4)]


def test_table_matches_this_python():
    assert UNIDATA_VERSION == unicodedata.unidata_version
    assert normalize.NATIVE_CHECK


def test_every_code_point_alone():
    wrong, certain = [], 0
    for x in range(0x110000):
        c = chr(x)
        if is_nfc(c):
            certain += 1
            if nfc(c) != c:
                wrong.append(hex(x))
    assert wrong == []
    # And it is useful: nearly every code point is known NFC on its own.
    assert certain > 1_100_000


def test_every_composing_pair_is_refused():
    pairs = composing_pairs()
    assert len(pairs) > 900
    assert [a + b for a, b in pairs if is_nfc(a + b)] == []
    # With something harmless in front, too.
    assert [a + b for a, b in pairs if is_nfc("x" + a + b)] == []


def test_random_hard_strings():
    rng = random.Random(5)
    alphabet = HARD + PLAIN * 20
    certain = 0
    for _ in range(300_000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        if is_nfc(s):
            certain += 1
            assert nfc(s) == s, [hex(ord(c)) for c in s]
    assert certain > 50_000


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(HARD + PLAIN), max_size=12))
def test_hypothesis_hard_strings(s):
    if is_nfc(s):
        assert nfc(s) == s


@pytest.mark.parametrize("text", [
    "",
    "plain ASCII",
    "caf\u00e9",                       # precomposed: NFC
    "cafe\u0301",                       # decomposed: not NFC
    "\u09c7\u09be",                     # Bengali e + aa: compose into o
    "\u0995\u09be",                     # ka + aa: stays
    "\u00ff\u09be",                     # a precomposed letter then a joining vowel sign
    "\u0928\u093c",                     # na + nukta: compose
    "\u0915\u093c",                     # ka + nukta: an exclusion, stays decomposed
    "\u0627\u0655\u0650",               # alef, hamza below, kasra: compose
    "\u0625\u0650",                     # alef with hamza below, kasra: NFC
    "a\u0323\u0302", "a\u0302\u0323",   # marks in and out of canonical order
    "\u1100\u1161\u11a8",               # Hangul jamo: compose into one syllable
    "\uac00\u11a8",                     # syllable + trailing consonant: compose
    "\ud800x",                          # a lone surrogate
])
def test_examples(text):
    if is_nfc(text):
        assert nfc(text) == text
    assert normalize.to_nfc(text) == nfc(text)


def test_inert_characters():
    # The fast path passes over "inert" characters without looking at them
    # again; each must be NFC alone, a starter, and the second half of no
    # composing pair (Hangul jamo that join a syllable included), so that
    # nothing before it can join it.  All of U+0000-02FF must be inert: the
    # check passes over them 8 at a time, and over Latin-1 strings at once.
    seconds = {b for _, b in composing_pairs()}
    wrong = []
    for x in range(0x110000):
        c = chr(x)
        if _is_inert(x) and (unicodedata.combining(c) or c in seconds or nfc(c) != c
                            or 0x1161 <= x <= 0x1175 or 0x11A8 <= x <= 0x11C2):
            wrong.append(hex(x))
    assert wrong == []
    assert all(_is_inert(x) for x in range(0x300))
    assert sum(map(_is_inert, range(0x110000))) > 1_000_000


#: Inert characters of several scripts, below U+0300, in the BMP and above it.
INERT = [c for c in "aZ 9.,\n\u00e9\u00ff\u0101\u01b0\u0430\u05d0\u0627\u0995\u0e01\u4e2d\uac00\u2019"
         "\U0001F600\U00020000"]


def test_fast_path_agrees_with_the_slow_one():
    # Runs of inert characters of every length, around hard ones at every
    # place, in strings of each of CPython's three layouts (Latin-1, UTF-16,
    # UTF-32): skipping the runs 8 at a time must not change the verdict.
    rng = random.Random(11)
    for trial in range(40_000):
        parts = []
        for _ in range(rng.randint(1, 4)):
            run = rng.choice([INERT[:6], INERT[:9], INERT[:15], INERT])
            parts.append("".join(rng.choice(run) for _ in range(rng.choice([0, 1, 7, 8, 9, 15, 16, 17, 40]))))
            parts.append("".join(rng.choice(HARD) for _ in range(rng.randint(0, 2))))
        s = "".join(parts)
        fast = is_nfc(s)
        assert fast == is_nfc(s, fast=False), [hex(ord(c)) for c in s]
        if fast:
            assert nfc(s) == s, [hex(ord(c)) for c in s]


def test_latin1_strings():
    # A str of Latin-1 characters only is NFC, whatever they are.
    s = "".join(map(chr, range(256))) * 3
    assert is_nfc(s) and is_nfc(s, fast=False) and nfc(s) == s


@pytest.mark.parametrize("path", file_params(BUNDLED_FILES + LEIPZIG_FILES + UDHR_FILES, "no corpus"))
def test_real_text_is_recognised(path):
    # NFC text of every script passes the check whole, line by line: the
    # slow path is the exception (at most a few lines per file).
    lines = [nfc(line) for line in read_lines(path)]
    unknown = sum(1 for line in lines if not is_nfc(line))
    assert unknown <= max(2, len(lines) // 100), (path, unknown)


def test_without_the_native_check(monkeypatch):
    # Were the table made for another Unicode version, to_nfc must fall back.
    monkeypatch.setattr(qtok._nfc, "NATIVE_CHECK", False)
    for s in ["cafe\u0301", "caf\u00e9", "\u09c7\u09be"]:
        assert normalize.to_nfc(s) == nfc(s)


def test_type_errors():
    with pytest.raises(TypeError):
        is_nfc(None)
    with pytest.raises(TypeError):
        is_nfc(b"bytes")
