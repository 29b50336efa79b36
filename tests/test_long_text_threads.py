"""One long text on several native threads (qtok/native/long_text.pxi).

The cuts must be piece boundaries of the whole text (checked against the
scanner on real and generated text), and the ids of a split text must be
those of the text encoded on one thread and those of tiktoken.
"""
from __future__ import annotations

import random
import sysconfig

import pytest
from hypothesis import given, settings, strategies as st

import qtok
from qtok import _bpe
from qtok.normalize import to_nfc
from corpus_files import LEIPZIG_FILES, UDHR_FILES, read_text, synthetic_texts
from test_fuzz import ALL_ATOMS, fuzz

LONG = _bpe.long_text_min_bytes      # the size from which a text is split


def piece_ends(text: str) -> set[int]:
    ends, at = set(), 0
    for piece in _bpe.split_pieces(text):
        at += len(piece.encode("utf-8"))
        ends.add(at)
    return ends


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_every_cut_is_a_piece_boundary(text):
    data = text.encode("utf-8")
    ends = piece_ends(text)
    for cut in _bpe.cut_candidates(data):
        assert cut in ends, (text, cut)


def test_cuts_of_real_text_are_piece_boundaries():
    texts = [read_text(p) for p in LEIPZIG_FILES + UDHR_FILES] or synthetic_texts(50)
    checked = 0
    for text in texts:
        cuts = _bpe.cut_candidates(text.encode("utf-8"))
        assert set(cuts) <= piece_ends(text)
        checked += len(cuts)
    assert checked > 1000


def _long_texts() -> dict[str, str]:
    rng = random.Random(7)
    real = "".join(read_text(p) for p in LEIPZIG_FILES) if LEIPZIG_FILES else \
        "\n".join(synthetic_texts(4000, seed=3))
    b64 = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                  for _ in range(600_000))
    return {
        "real text": real,
        "base64": b64,
        "CJK and punctuation": ("中文字符，" * 120_000),
        "Thai letters and marks": ("ภาษาไทยที่ " * 40_000),
        "contractions": ("it's they'll we'd I'M " * 30_000),
        "one letter": "a" * 600_000,                      # no cut: one part
        "spaces": " " * 600_000,
        "CR/LF and spaces": ("x \r\n  \n\t" * 80_000),
        "mixed": "".join(rng.choice(["word ", "12", "  ", "\n", "é", "ß", "'s", "!!", "中"])
                         for _ in range(200_000)),
    }


@pytest.mark.parametrize("name", list(_long_texts()))
def test_split_text_encodes_to_the_same_ids(name, threads, qwen_enc_raw, tiktoken_ref):
    text = _long_texts()[name]
    assert len(text.encode("utf-8")) >= LONG
    threads(1)
    one = qwen_enc_raw.encode_ordinary(text)
    for n in (2, 3, 8):
        threads(n)
        assert qwen_enc_raw.encode_ordinary(text) == one, n
        assert qwen_enc_raw.count(text, disallowed_special=()) == len(one)
        assert qwen_enc_raw.encode_to_numpy(text, disallowed_special=()).tolist() == one
        assert qwen_enc_raw.encode(text, disallowed_special=()) == one
    assert one == tiktoken_ref.encode_ordinary(text)


def _texts_just_over_the_threshold() -> list[str]:
    """Whole corpus files, and texts from one to four times the threshold:
    the sizes a user meets most often among split texts (the two or three
    parts of a split, where a part's end is most often the text's end)."""
    files = [read_text(p) for p in LEIPZIG_FILES]
    texts = [t for t in files if len(t.encode("utf-8")) >= LONG]
    unit = "".join(files) or "\n".join(synthetic_texts(4000, seed=5))
    data = unit.encode("utf-8")
    for size in (LONG, LONG + 1, 2 * LONG - 7, 4 * LONG):
        data_cut = (data * (size // len(data) + 1))[:size]
        texts.append(data_cut.decode("utf-8", "ignore"))
    return texts


def test_texts_just_over_the_threshold_split_exactly(threads, qwen_enc_raw, tiktoken_ref):
    texts = _texts_just_over_the_threshold()
    split = 0
    for text in texts:
        if len(text.encode("utf-8")) < LONG:
            continue
        want = tiktoken_ref.encode_ordinary(text)
        threads(1)
        assert qwen_enc_raw.encode_ordinary(text) == want
        for n in (2, 3):
            threads(n)
            assert qwen_enc_raw.encode_ordinary(text) == want, (n, len(text))
            assert qwen_enc_raw.count(text, disallowed_special=()) == len(want)
        # The text does split: a cut exists at least a part's length from each end.
        split += len(_bpe.text_cut_points(text.encode("utf-8"), 2)) > 2
    assert split >= 3, "too few texts over the threshold split"


def test_more_threads_than_the_pool_has_caches(threads, qwen_enc_raw, tiktoken_ref):
    """Threads beyond the pool's 16 piece caches encode their parts uncached,
    each into a vector of its own; the others keep theirs in their caches'
    scratch vectors.  Both kinds of part must land in order."""
    unit = "".join(read_text(p) for p in LEIPZIG_FILES[:6]) if LEIPZIG_FILES else \
        "\n".join(synthetic_texts(3000, seed=11))
    text = (unit * (40 * LONG // len(unit.encode("utf-8")) + 1))[: 40 * LONG]
    want = tiktoken_ref.encode_ordinary(text)
    for n in (24, 2, 24, 80):
        # 80: more threads than the ids are put in place with (64).
        threads(n)
        assert qwen_enc_raw.encode_ordinary(text) == want, n
        assert qwen_enc_raw.count(text, disallowed_special=()) == len(want)
        assert qwen_enc_raw.encode_to_numpy(text, disallowed_special=()).tolist() == want, n


def test_parts_are_emitted_on_threads_and_on_the_caller(threads, qwen_enc_raw, tiktoken_ref):
    """A text's ids are put in place on its threads from 524,288 ids on, and
    by the calling thread alone below that: both, on either side."""
    unit = "".join(read_text(p) for p in LEIPZIG_FILES) if LEIPZIG_FILES else \
        "\n".join(synthetic_texts(6000, seed=13))
    data = unit.encode("utf-8")
    for size in (2 * LONG, 600_000, 2_600_000):
        text = (data * (size // len(data) + 1))[:size].decode("utf-8", "ignore")
        want = tiktoken_ref.encode_ordinary(text)
        for n in (2, 3):
            threads(n)
            assert qwen_enc_raw.encode_ordinary(text) == want, (size, n)
            assert qwen_enc_raw.encode_to_numpy(text, disallowed_special=()).tolist() == want
            assert qwen_enc_raw.count(text, disallowed_special=()) == len(want)
    assert len(want) > 524_288, "the longest text must be emitted on threads"


@pytest.mark.parametrize("n", [2, 3, 5])
def test_each_worker_takes_a_run_of_adjacent_parts(n, threads, qwen_enc_raw, tiktoken_ref):
    """Worker w's run is the w-th stretch of adjacent parts; every part is
    encoded once, by its run's worker or by one that finished early and took
    it over, and the ids are the same either way.  The text's first half is
    slow (unseen CJK pieces to merge) and its second half fast (one word
    again and again), so that the fast run ends first and its worker takes
    over parts of the slow one."""
    rng = random.Random(n)
    slow = "".join(rng.choice("中文字符汉语词典书写") + rng.choice("，。 ") for _ in range(120_000))
    text = slow + "word " * 80_000
    threads(n)
    shared = _bpe._long_text_workers(qwen_enc_raw._core, text)
    assert shared is not None and len(shared) >= n
    starts = [start for start, _, _ in shared]
    assert starts[0] == 0 and starts == sorted(set(starts))
    runs = [run for _, run, _ in shared]
    assert runs == sorted(runs) and set(runs) == set(range(n))
    assert all(0 <= by < n for _, _, by in shared)
    assert qwen_enc_raw.encode_ordinary(text) == tiktoken_ref.encode_ordinary(text)


def test_a_text_splits_only_where_it_may():
    data = ("word " * 200_000).encode()
    cuts = _bpe.text_cut_points(data, 4)
    assert cuts[0] == 0 and cuts[-1] == len(data) and len(cuts) == 5
    assert all(data[c - 1:c] == b"d" and data[c:c + 1] == b" " for c in cuts[1:-1])
    assert _bpe.text_cut_points(b"a" * 10**6, 4) == [0, 10**6]
    assert _bpe.text_cut_points(b" " * 10**6, 4) == [0, 10**6]


def test_thread_setting(threads, monkeypatch):
    threads(3)
    assert qtok.get_num_threads() == 3
    with pytest.raises(ValueError, match="at least 1"):
        qtok.set_num_threads(0)
    with pytest.raises(TypeError):
        qtok.set_num_threads("2")
    import importlib
    import qtok.threads as module
    monkeypatch.setenv("QTOK_NUM_THREADS", "5")
    assert module._default() == 5
    monkeypatch.setenv("QTOK_NUM_THREADS", "lots")
    with pytest.warns(RuntimeWarning, match="QTOK_NUM_THREADS"):
        assert module._default() == module._cores()
    monkeypatch.delenv("QTOK_NUM_THREADS")
    assert module._default() == module._cores()


@pytest.mark.parametrize("env, want", [(None, "cores"), ("3", "3")])
def test_the_default_threads_apply_from_the_first_encoding(env, want):
    # In a fresh process whose first use of qtok is get_encoding (the package's
    # names load on first use), long texts get the default number of threads.
    import os
    import subprocess
    import sys
    environ = {k: v for k, v in os.environ.items() if k != "QTOK_NUM_THREADS"}
    if env is not None:
        environ["QTOK_NUM_THREADS"] = env
    script = ("import os, qtok\n"
              "qtok.get_encoding('qwen')\n"
              "from qtok import _bpe\n"
              "print(_bpe.get_text_threads(), len(os.sched_getaffinity(0)))\n")
    got, cores = subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True,
                                text=True, check=True).stdout.split()
    assert got == (cores if want == "cores" else want)


# Tricky text long enough to split: the fuzz tests' atoms (every kind of
# whitespace, marks, contractions, digits of many scripts, emoji, joiners...)
# repeated past the threshold from a random place in the unit, so that the
# cuts fall among them at every phase.
@fuzz(25)
@given(atoms=st.lists(st.sampled_from(ALL_ATOMS), min_size=1, max_size=30),
       skip=st.integers(0, 40), size=st.sampled_from([LONG + 1, 2 * LONG + 3, 5 * LONG]))
def test_split_tricky_text_encodes_like_tiktoken(atoms, skip, size, qwen_enc_raw, tiktoken_ref):
    unit = "".join(atoms)
    text = (unit * (size // len(unit.encode("utf-8")) + 41))[skip:]   # skip drops at most 40 units
    assert len(text.encode("utf-8")) >= LONG
    want = tiktoken_ref.encode_ordinary(text)
    before = qtok.get_num_threads()
    try:
        for n in (2, 3):
            qtok.set_num_threads(n)
            assert qwen_enc_raw.encode_ordinary(text) == want, (n, unit)
            assert qwen_enc_raw.count(text, disallowed_special=()) == len(want)
            assert qwen_enc_raw.encode_to_numpy(text, disallowed_special=()).tolist() == want
    finally:
        qtok.set_num_threads(before)


# A str whose UTF-8 CPython has not made yet goes to the threads as its
# characters, and each thread writes the UTF-8 of its own parts
# (qtok/utf8.h).  Most texts above were encoded by tiktoken first, which
# makes CPython keep their UTF-8; these tests give qtok copies without it.

_KEPT: list[str] = []

# Without a GIL (free-threaded CPython) a str's UTF-8 always comes from
# CPython: another thread may be filling in the str's own (qtok/pystr.h).
THREADS_WRITE_UTF8 = not sysconfig.get_config_var("Py_GIL_DISABLED")


def fresh(text: str) -> str:
    """A copy of text whose UTF-8 CPython has not made: a new str object,
    kept alive to the end of the tests, so that the next copy is not put
    at its address (a str of the same length and characters at the
    address of the last one is taken for the same str, met again)."""
    copy = text[:1] + text[1:]
    assert copy is not text
    assert copy.isascii() or not THREADS_WRITE_UTF8 or not _bpe._str_has_utf8(copy)
    _KEPT.append(copy)
    return copy


@pytest.fixture(autouse=True)
def _let_copies_go():
    yield
    _KEPT.clear()


def _texts_of_every_kind() -> dict[str, str]:
    """Long texts stored one, two and four bytes a character."""
    return {**_long_texts(),
            "Latin-1": "café naïve ß ÿ¡ " * 20_000,
            "astral": "😀 word 𝔘𝔫𝔦 中 " * 12_000,
            "astral letters only": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢" * 12_000}


@pytest.mark.parametrize("name", list(_texts_of_every_kind()))
def test_threads_write_the_utf8_of_a_new_str(name, threads, qwen_enc_raw, tiktoken_ref):
    text = _texts_of_every_kind()[name]
    want = tiktoken_ref.encode_ordinary(text)
    for n in (2, 3, 8):
        threads(n)
        copy = fresh(text)
        assert qwen_enc_raw.encode_ordinary(copy) == want, n
        # The threads wrote it, or the calling thread for a text with no
        # place to cut (one run of letters): CPython holds none (an ASCII
        # str is its own).
        assert copy.isascii() or _bpe._str_has_utf8(copy) != THREADS_WRITE_UTF8
        assert qwen_enc_raw.count(fresh(text), disallowed_special=()) == len(want)
        assert qwen_enc_raw.encode_to_numpy(fresh(text), disallowed_special=()).tolist() == want
        assert qwen_enc_raw.encode(fresh(text), disallowed_special=()) == want


@pytest.mark.skipif(not THREADS_WRITE_UTF8, reason="CPython makes every str's UTF-8 here")
def test_a_str_met_again_keeps_the_utf8_cpython_makes(threads, qwen_enc_raw, tiktoken_ref):
    """The same str in the next call is given as CPython's UTF-8, which
    CPython then keeps, so that later calls find it made."""
    threads(2)
    # Text of its own: a str of the same characters that an earlier test let go
    # could be at this address, and would pass for this one.
    text = fresh(_long_texts()["CJK and punctuation"] + "met again")
    want = tiktoken_ref.encode_ordinary(fresh(text))
    assert qwen_enc_raw.encode_ordinary(text) == want
    assert not _bpe._str_has_utf8(text)
    assert qwen_enc_raw.count(text, disallowed_special=()) == len(want)
    assert _bpe._str_has_utf8(text)
    assert qwen_enc_raw.encode_ordinary(text) == want
    other = fresh(text)
    assert qwen_enc_raw.encode_ordinary(other) == want and not _bpe._str_has_utf8(other)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("unit", ["word é ", "中文，", "😀 x "])
def test_a_lone_surrogate_in_a_new_long_str(where, unit, threads, qwen_enc_raw, tiktoken_ref):
    """A lone surrogate has no UTF-8: the threads stop, and the text takes
    the way of every text that holds one (CPython's error, then the same
    replacement as tiktoken's)."""
    body = unit * (3 * LONG // len(unit))
    half = len(body) // 2
    text = {"first": "\ud800" + body, "middle": body[:half] + "\udfff" + body[half:],
            "last": body + "\ud83d"}[where]
    want = tiktoken_ref.encode_ordinary(fresh(text))
    for n in (2, 1, 3):
        threads(n)
        assert qwen_enc_raw.encode_ordinary(fresh(text)) == want, n
        assert qwen_enc_raw.count(fresh(text), disallowed_special=()) == len(want)


def _code_points():
    """Code points of every width, surrogates among them, ASCII most often
    (runs of ASCII take a path of their own)."""
    return st.one_of(st.integers(0x20, 0x7E), st.integers(0x80, 0xFF), st.integers(0x100, 0x7FF),
                     st.integers(0x800, 0xFFFF), st.integers(0xD800, 0xDFFF),
                     st.integers(0x10000, 0x10FFFF))


def _encoded_or_none(text: str):
    """text's UTF-8, or None where it holds a lone surrogate (no UTF-8)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


@settings(max_examples=1000, deadline=None)
@given(st.lists(_code_points(), max_size=40))
def test_the_utf8_the_threads_write_is_cpythons(points):
    text = "".join(map(chr, points))
    assert _bpe._utf8_written(text) == _encoded_or_none(text)


@pytest.mark.parametrize("wide", ["", "é", "ÿ", "ő", "中", "😀", "\ud800"])
def test_the_utf8_of_every_length_and_place(wide):
    """Around the runs of 8, 4 or 2 ASCII characters taken at once: one
    character of another width at every place of texts of every length."""
    for n in range(0, 20):
        for at in range(n + 1):
            text = "abcdefghijklmnopqrstu"[:at] + wide + "vwxyz0123456789ABCDEF"[:n - at]
            assert _bpe._utf8_written(text) == _encoded_or_none(text), (n, at)


def _bmp_points():
    """Code points of two-byte strs (the four-at-a-time writer's), of one,
    two and three UTF-8 bytes, with surrogates, in runs of one width."""
    width = st.sampled_from([(0x20, 0x7E), (0x80, 0x7FF), (0x800, 0xFFFF), (0xD800, 0xDFFF),
                             (0x7F, 0x80), (0x7FF, 0x800), (0xFFFE, 0xFFFF)])
    run = width.flatmap(lambda lo_hi: st.lists(st.integers(*lo_hi), min_size=1, max_size=12))
    return st.lists(run, max_size=24).map(lambda runs: [p for r in runs for p in r] + [0x100])


@settings(max_examples=2000, deadline=None)
@given(_bmp_points())
def test_the_utf8_of_two_byte_strs_is_cpythons(points):
    text = "".join(map(chr, points))
    for skip in range(4):                    # the blocks of eight start elsewhere
        # (None: a lone surrogate, which has no UTF-8.)
        assert _bpe._utf8_written(text[skip:]) == _encoded_or_none(text[skip:]), skip


@pytest.mark.parametrize("wide", ["é", "ő", "ࠀ", "中", "\uffff", "\ud800", "\udfff"])
def test_the_utf8_of_two_byte_strs_at_every_place(wide):
    """One character of another width at every place of every length up to
    40, the rest ASCII or three bytes each: every alignment of the blocks
    of eight, the ASCII blocks and the tail."""
    for filler in ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", "中" * 44):
        for n in range(0, 41):
            for at in range(n + 1):
                text = filler[:at] + wide + filler[at:n] + "\u0100"
                assert _bpe._utf8_written(text) == _encoded_or_none(text), (filler[0], n, at)


def _byte_positions(text: str) -> list[int]:
    at, positions = 0, [0]
    for ch in text:
        at += len(ch.encode("utf-8", "surrogatepass"))
        positions.append(at)
    return positions


def test_cuts_among_characters_are_those_of_the_utf8():
    texts = list(_texts_of_every_kind().values())
    texts += [read_text(p) for p in UDHR_FILES[:10]]
    for text in texts:
        at = _byte_positions(text)
        assert [at[c] for c in _bpe.cut_candidates(text)] == _bpe.cut_candidates(text.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALL_ATOMS), max_size=60))
def test_cuts_among_characters_of_tricky_text(atoms):
    text = "".join(atoms)
    at = _byte_positions(text)
    assert [at[c] for c in _bpe.cut_candidates(text)] == _bpe.cut_candidates(text.encode("utf-8"))


# A long text to be normalized (the default encodings, NFC) is encoded as it
# is while its threads check it for NFC, a slice each; where the check
# fails, it is normalized from there and encoded again.  Either way the ids
# must be those of the normalized text.

def _real_text_to_normalize(n: int) -> str:
    """Real text (or the synthetic stand-in, which spells special tokens)
    with every special token broken up, so that the default special-token
    arguments, which raise on one, take the core's way."""
    text = _long_texts()["real text"][:n]
    for special in qtok.get_encoding("qwen").special_tokens_set:
        text = text.replace(special, special[:1] + " " + special[1:])
    return to_nfc(text)


def _texts_to_normalize() -> dict[str, str]:
    real = _real_text_to_normalize(300_000)
    n = len(real)
    at = lambda text, i, s: text[:i] + s + text[i:]        # noqa: E731
    decomposed = "e\u0301"                                 # NFC: é
    return {
        "NFC": real,
        "decomposed first": decomposed + real,
        "decomposed last": real + decomposed,
        # Near where the slices of 2 and 3 threads start.
        **{f"decomposed at {k}/{d}{off:+d}": at(real, k * n // d + off, decomposed)
           for k, d in ((1, 2), (1, 3), (2, 3)) for off in (-2, 0, 1, 40)},
        "a mark after a precomposed letter at 1/2": at(real, n // 2, "\u00e9\u0301"),
        "Hangul jamo that join at 1/2": at(real, n // 2, "\u1100\u1161"),
        # NFC, but no safe boundary near the middle: that slice cannot tell.
        "a long run of marks across 1/2": at(real, n // 2 - 100, "x" + "\u0334" * 200),
        # NFC, but beyond the one-sided check: normalized, and found the same.
        "Arabic the check cannot vouch for": at(real, n // 3, "\u0625\u0650\u0630\u064e\u0627 " * 30),
        "marks out of order everywhere": ("a\u0323\u0301 b\u0301\u0323 " * 20_000),
        "astral and decomposed": at("😀 word 𝔘𝔫𝔦 中 " * 12_000, 50_000, decomposed),
        # No place to cut: encoded whole, after normalizing.
        "astral letters only": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢" * 12_000,
        "astral letters, a jamo pair that joins": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢" * 12_000 + "\u1100\u1161",
    }


@pytest.mark.parametrize("name", list(_texts_to_normalize()))
def test_a_long_text_to_normalize_is_checked_on_its_threads(name, threads, qwen_enc, qwen_enc_raw,
                                                            tiktoken_ref):
    text = _texts_to_normalize()[name]
    normalized = to_nfc(text)
    want = tiktoken_ref.encode_ordinary(normalized)
    threads(1)
    assert qwen_enc.encode_ordinary(text) == want
    splits = len(_bpe.text_cut_points(text.encode("utf-8"), 2)) > 2
    for n in (2, 3, 8):
        threads(n)
        checked = _bpe._nfc_slices_checked()
        assert qwen_enc.encode_ordinary(fresh(text)) == want, n
        # Its threads checked it (Latin-1 needs no check).
        assert (_bpe._nfc_slices_checked() > checked) == (splits and not text.isascii()), n
        assert qwen_enc.encode_ordinary(text) == want, n              # met again: CPython's UTF-8
        assert qwen_enc.count(fresh(text)) == len(want), n
        assert qwen_enc.encode(fresh(text)) == want, n
        assert qwen_enc.encode_to_numpy(fresh(text)).tolist() == want, n
    assert qwen_enc_raw.encode_ordinary(normalized) == want


def test_a_long_text_to_normalize_with_a_lone_surrogate(threads, qwen_enc, tiktoken_ref):
    text = _real_text_to_normalize(200_000)
    text = text[:100_000] + "\ud800" + "e\u0301" + text[100_000:]
    want = tiktoken_ref.encode_ordinary(to_nfc(text))         # tiktoken: U+FFFD
    for n in (1, 2, 3):
        threads(n)
        assert qwen_enc.encode_ordinary(fresh(text)) == want, n
        assert qwen_enc.count(fresh(text)) == len(want), n
        assert qwen_enc.encode_to_numpy(fresh(text)).tolist() == want, n


def test_a_long_str_subclass_to_normalize_reads_as_a_plain_str(threads, qwen_enc, tiktoken_ref):
    class Text(str):
        pass
    text = _texts_to_normalize()["decomposed at 1/2+0"]
    want = tiktoken_ref.encode_ordinary(to_nfc(text))
    threads(2)
    assert qwen_enc.encode_ordinary(Text(text)) == want
    assert qwen_enc.count(Text(text)) == len(want)
    assert qwen_enc.encode_to_numpy(Text(text)).tolist() == want
