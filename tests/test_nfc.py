"""qtok's NFC: Hugging Face tokenizers' normalization, on every code point.

Qwen2 and later normalize with ``tokenizers``, so its NFC is the reference
here, never this Python's ``unicodedata`` (a newer Unicode: they differ on
marks added since 9.0).  ``to_nfc`` must equal it everywhere, and the quick
check ``is_nfc`` may say "not known" but must never say NFC wrongly: a wrong
True would skip a normalization that changes the text, and the ids would
then differ from Qwen's.  Checked on every code point in several contexts,
every pair that composes, and many random strings built from the characters
that make NFC hard (marks, precomposed letters, vowel signs that join,
Hangul jamo).
"""
from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers.normalizers import NFD

from corpus_files import BUNDLED_FILES, LEIPZIG_FILES, UDHR_FILES, file_params, read_lines
import qtok
from qtok import normalize
from qtok._nfc import (UNICODE_VERSION, _check_end, _is_inert, _nfc_after_check, _nfc_whole,
                       combining, composite, is_nfc, nfd, to_nfc)
from qwen_reference import nfc

hf_nfd = NFD().normalize_str

#: Every code point a str may hold and tokenizers takes (no lone surrogates).
CODE_POINTS = [chr(x) for x in range(0x110000) if not 0xD800 <= x <= 0xDFFF]


def composing_pairs() -> list[tuple[str, str]]:
    """Every (first, second) that tokenizers' NFC joins into one character.
    Candidates come from unicodedata's decompositions (a newer Unicode, so a
    superset); tokenizers decides which of them join."""
    candidates = []
    for x in range(0x110000):
        d = unicodedata.decomposition(chr(x))
        if d and not d.startswith("<") and len(d.split()) == 2:
            a, b = (chr(int(p, 16)) for p in d.split())
            candidates.append((a, b, chr(x)))
    joined = nfc("\n".join(a + b for a, b, _ in candidates)).split("\n")
    return [(a, b) for (a, b, x), j in zip(candidates, joined) if j == x]


#: Characters that make NFC interesting: marks, anything with a canonical
#: decomposition, the second halves of composing pairs, Hangul jamo (by
#: either Unicode version); plus some plain letters of several scripts.
HARD = sorted({chr(x) for x in range(0x110000) if not 0xD800 <= x <= 0xDFFF and (
    unicodedata.combining(chr(x)) or combining(chr(x))
    or (unicodedata.decomposition(chr(x)) and not unicodedata.decomposition(chr(x)).startswith("<"))
    or 0x1100 <= x <= 0x11FF)} | {b for _, b in composing_pairs()})
PLAIN = list("aeiouyAEIOUnkgsz ") + [chr(x) for x in (0x995, 0x9AE, 0x915, 0x928, 0x627, 0x648,
                                                       0x3B1, 0x3C9, 0x430, 0x4E2D, 0xAC00, 0xB2E4)]

#: Where each code point c is tried: alone, after a letter, before and
#: between marks of several classes, beside Hangul jamo and syllables, and
#: after a Tamil letter that joins a starter.
CONTEXTS = ["{}", "a{}", "{}\u0301", "e{}\u0323", "{}\u0308\u0323", "a\u0301{}", "a\u0334{}\u0301",
            "\u1100{}", "{}\u1161", "\uac00{}", "{}\u11a8", "\u0b92{}", "\u0928{}\u093c"]


def test_unicode_version_is_pinned():
    # The same table on every Python, whatever its unicodedata says.
    assert UNICODE_VERSION == normalize.UNICODE_VERSION == "9.0"


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_code_point_in_context(context):
    texts = [context.format(c) for c in CODE_POINTS if c != "\n"]
    want = nfc("\n".join(texts))
    # The full normalizer, on all of them at once (line feeds join nothing).
    got = to_nfc("\n".join(texts))
    if got != want:
        wrong = [t for t, w in zip(texts, want.split("\n")) if to_nfc(t) != w]
        pytest.fail(f"{len(wrong)} differ from tokenizers, e.g. {[ascii(t) for t in wrong[:8]]}")
    assert nfd("\n".join(texts)) == hf_nfd("\n".join(texts))
    # The quick check, one by one: never True where normalizing changes it.
    wrong = [ascii(t) for t, w in zip(texts, want.split("\n")) if is_nfc(t) and w != t]
    assert wrong == []


def test_every_code_point_alone_is_mostly_known():
    # The check is useful: nearly every code point is known NFC on its own.
    assert sum(map(is_nfc, CODE_POINTS)) > 1_100_000


def test_where_python_disagrees_qtok_follows_tokenizers():
    # U+0D3C (Malayalam, Unicode 10) is a mark to Python 3.11's unicodedata
    # and a starter to tokenizers: "a" + U+0D3C + U+0301 composes "a" and the
    # acute for the first, not for the second.  qtok does as tokenizers does,
    # so the ids are Qwen2's on every Python.
    text = "a\u0d3c\u0301"
    assert to_nfc(text) == nfc(text) == text
    assert nfd("\U0001183a\u0301") == hf_nfd("\U0001183a\u0301")
    enc = qtok.get_encoding("qwen2")
    assert enc.encode(text) == enc.encode_ordinary(nfc(text))


def test_combining_and_composite():
    assert combining("\u0301") == 230 and combining("a") == 0 and combining("\u0d3c") == 0
    assert composite("e", "\u0301") == "\u00e9"
    assert composite("\u1100", "\u1161") == "\uac00" and composite("\uac00", "\u11a8") == "\uac01"
    assert composite("\uac01", "\u11a8") is None and composite("a", "b") is None
    with pytest.raises(TypeError):
        combining("ab")
    with pytest.raises(TypeError):
        composite("ab", "c")


def test_long_runs_of_marks():
    # Canonical ordering of a long run must not take quadratic time: 200,000
    # marks in the worst order, then the same under a letter of every layout.
    for base in ["a", "\u0995", "\U0001D400"]:
        text = base + "\u0301" * 100_000 + "\u0323" * 100_000 + " end"
        assert to_nfc(text) == nfc(text)
        assert nfd(text) == hf_nfd(text)


def test_every_composing_pair_is_refused():
    pairs = composing_pairs()
    assert len(pairs) > 900
    assert [a + b for a, b in pairs if is_nfc(a + b)] == []
    # With something harmless in front, too.
    assert [a + b for a, b in pairs if is_nfc("x" + a + b)] == []


def test_random_hard_strings():
    rng = random.Random(5)
    alphabet = HARD + PLAIN * 20
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(300_000)]
    want = nfc("\n".join(texts))
    assert to_nfc("\n".join(texts)) == want
    certain = 0
    for s, w in zip(texts, want.split("\n")):
        if is_nfc(s):
            certain += 1
            assert w == s, [hex(ord(c)) for c in s]
    assert certain > 50_000


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(HARD + PLAIN), max_size=12))
def test_hypothesis_hard_strings(s):
    assert to_nfc(s) == nfc(s)
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
    inert = [c for c in CODE_POINTS if _is_inert(ord(c)) and c != "\n"]
    changed = {c for c, n in zip(inert, nfc("\n".join(inert)).split("\n")) if n != c}
    wrong = [hex(ord(c)) for c in inert if combining(c) or c in seconds or c in changed
             or 0x1161 <= ord(c) <= 0x1175 or 0x11A8 <= ord(c) <= 0x11C2]
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


def test_type_errors():
    for function in (is_nfc, to_nfc, nfd):
        with pytest.raises(TypeError):
            function(None)
        with pytest.raises(TypeError):
            function(b"bytes")
    with pytest.raises(TypeError):
        is_nfc(None)
    with pytest.raises(TypeError):
        is_nfc(b"bytes")


# to_nfc normalizes only the stretches around the places the check stops at,
# between safe boundaries, and returns the text itself when none changes.

@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(HARD + PLAIN * 8), max_size=80).map("".join))
def test_stretches_equal_the_whole_text_normalized(s):
    assert to_nfc(s) == _nfc_whole(s) == nfc(s)


def test_nfc_text_the_check_cannot_vouch_for_is_returned_itself():
    # U+0625 (alef with hamza below) decomposes, and a mark after a
    # precomposed letter is beyond the one-sided check: NFC all the same.
    text = "kata: \u0625\u0650\u0630\u064e\u0627 " * 50
    assert not is_nfc(text)
    assert nfc(text) == text
    assert to_nfc(text) is text


@pytest.mark.parametrize("where", ["start", "middle", "end", "everywhere"])
def test_long_text_with_a_few_places_to_normalize(where):
    # Over 65,536 characters, so the native part runs without the GIL.
    unit = "Bahasa Melayu \u0625\u0650\u0630\u064e\u0627 dan 한국어 text. "
    body = unit * 3000
    decomposed = "e\u0301"               # NFC: é
    if where == "start":
        text = decomposed + body
    elif where == "middle":
        text = body[: len(body) // 2] + decomposed + body[len(body) // 2:]
    elif where == "end":
        text = body + decomposed
    else:
        text = (unit + decomposed) * 3000
    assert len(text) > 65_536
    out = to_nfc(text)
    assert out == nfc(text) == _nfc_whole(text)
    assert out is not text and "\u0301" not in out


# A long text split on threads is checked in slices, one per thread
# (nfc_slice_end): each starts afresh at a safe boundary before its start,
# so the least of the slices' results must be where the check of the whole
# first fails -- and every slice must pass exactly when the whole does.

def _slices(n: int, k: int, rng: random.Random) -> list[tuple[int, int]]:
    cuts = sorted({0, n, *(rng.randrange(n + 1) for _ in range(k - 1))})
    return list(zip(cuts, cuts[1:]))


def _slice_agrees(text: str, start: int, end: int, whole: int) -> int:
    """The check of text[start:end] as a thread runs it, held to the check
    of the whole text, which first fails at whole (or is len(text))."""
    got = _check_end(text, start, end)
    assert got <= end
    if whole >= end:                  # no failure before the slice's end
        assert got == end, (text, start, end)
    elif whole >= start:              # the first failure is in the slice
        assert got == whole, (text, start, end)
    else:                             # before it: never reported earlier than it
        assert got >= whole, (text, start, end)
    return got


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(HARD + PLAIN * 8), min_size=1, max_size=60).map("".join),
       st.integers(2, 6), st.integers(0, 2**32))
def test_slices_fail_where_the_whole_text_fails(s, k, seed):
    whole = _check_end(s)
    slices = _slices(len(s), k, random.Random(seed))
    failed = [got for got, (a, b) in zip((_slice_agrees(s, a, b, whole) for a, b in slices), slices)
              if got < b]
    # What the threads report: the least failure, or none when the text passes.
    assert min(failed, default=len(s)) == whole


def test_every_slice_of_text_with_marks():
    text = "e\u0301 a\u0308\u0323 \u0625\u0650 \uac00\u11a8 x\u0334\u0301 " * 4
    for prefix in range(len(text) + 1):      # where the first failure falls varies
        t = "abc " + text[prefix:]
        whole = _check_end(t)
        for start in range(len(t) + 1):
            for end in range(start, len(t) + 1):
                _slice_agrees(t, start, end, whole)


def test_a_slice_in_a_long_run_of_marks_cannot_tell():
    # 200 marks that compose with nothing, after one letter: NFC, but a slice
    # that starts among them finds no safe boundary within reach and says so
    # by failing at its start; the thread then normalizes the stretch around
    # that place, which finds it NFC.
    text = "x" + "\u0334" * 200 + " tail"
    assert _check_end(text) == len(text)
    assert _check_end(text, 150, len(text)) == 150
    assert _check_end(text, 150, len(text), own=True) == len(text)
    assert _check_end(text, 40, len(text)) == len(text)      # the letter is within reach
    assert _check_end(text, 0, 100) == 100


# Where the check stops, a thread normalizes the stretch around that place
# and compares (nfc_slice_own_end): most such places are NFC after all.
# Every slice must then say "its own NFC" exactly when the text is, and
# where one does not, the text must be its own NFC up to there and
# normalizing from there must give the text's NFC.

def _own_ends(s: str, slices) -> list[int]:
    return [_check_end(s, a, b, own=True) for a, b in slices]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(HARD + PLAIN * 8), min_size=1, max_size=60).map("".join),
       st.integers(2, 6), st.integers(0, 2**32))
def test_slices_are_their_own_nfc_exactly_when_the_text_is(s, k, seed):
    slices = _slices(len(s), k, random.Random(seed))
    ends = _own_ends(s, slices)
    assert all(e <= b for e, (a, b) in zip(ends, slices))
    failed = [e for e, (a, b) in zip(ends, slices) if e < b]
    want = nfc(s)
    assert (not failed) == (want == s)
    if failed:
        at = min(failed)
        assert nfc(s[:at]) == s[:at] and want.startswith(s[:at])
        assert _nfc_after_check(s, at) == want


def test_a_slice_that_the_check_cannot_vouch_for_is_its_own_nfc():
    text = "kata: \u0625\u0650\u0630\u064e\u0627 " * 50
    assert _check_end(text) < len(text) and nfc(text) == text
    n = len(text)
    for k in (1, 2, 3, 7):
        slices = [(i * n // k, (i + 1) * n // k) for i in range(k)]
        assert _own_ends(text, slices) == [b for a, b in slices]
