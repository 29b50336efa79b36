"""Pieces of one repeated byte or character (merge_run, the run-length form of
the merge) and long pieces that repeat a few bytes (merge_periodic).

A run of one byte ("aaaa", spaces, newlines, "-----") longer than 64 bytes is
merged on run lengths instead of position by position (see merge_run in
qtok/native/merge_run.pxi).  These tests hold it to tiktoken: on the Qwen vocabulary for every
ASCII character and many lengths, and on small made-up vocabularies whose
ranks are shuffled so that every branch of merge_run is taken -- the whole-run
step, the one-pair step, joins where two runs meet, and giving up.
"""
from __future__ import annotations

import random

import pytest

import qtok

# Around the thresholds: 64 (merge_small), 256 (stack), 4096 (merge_huge).
LENGTHS = list(range(1, 140)) + [255, 256, 257, 1000, 4095, 4096, 4097, 12_345]
ASCII = [chr(c) for c in range(128)]


@pytest.mark.parametrize("char", ASCII, ids=[f"U+{ord(c):04X}" for c in ASCII])
def test_every_ascii_run_like_tiktoken(qwen_enc_raw, tiktoken_ref, char):
    for n in LENGTHS:
        text = char * n
        want = tiktoken_ref.encode_ordinary(text)
        assert qwen_enc_raw.encode_ordinary(text) == want, (repr(char), n)


@pytest.mark.parametrize("text", ["x" + "-" * 300 + "y", "ab" + " " * 500 + "cd", "\n" * 200 + "z",
                                  "=" * 80 + "\n" + "=" * 81, "!!" + "?" * 100])
def test_runs_inside_text_like_tiktoken(qwen_enc_raw, tiktoken_ref, text):
    assert qwen_enc_raw.encode_ordinary(text) == tiktoken_ref.encode_ordinary(text)


def made_up_vocabulary(seed: int, byte: bytes = b"a", longest: int = 16):
    """All 256 bytes, then runs of ``byte`` of some lengths in 2..longest, in
    a shuffled order: longer runs may outrank shorter ones, and some lengths
    are missing, which breaks the assumptions a shortcut could make."""
    rng = random.Random(seed)
    ranks = {bytes([b]): b for b in range(256)}
    lengths = [k for k in range(2, longest + 1) if k == 2 or rng.random() < 0.7]
    rng.shuffle(lengths)
    for k in lengths:
        ranks[byte * k] = len(ranks)
    return ranks


def both(ranks):
    import tiktoken
    ours = qtok.Encoding("made-up", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=ranks, special_tokens={})
    theirs = tiktoken.Encoding("made-up", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=ranks,
                               special_tokens={})
    return ours, theirs


@pytest.mark.parametrize("seed", range(60))
def test_shuffled_vocabularies_like_tiktoken(seed):
    ours, theirs = both(made_up_vocabulary(seed, byte=b" " if seed % 3 == 0 else b"a"))
    char = " " if seed % 3 == 0 else "a"
    rng = random.Random(seed)
    for n in [65, 66, 67, 100, 127, 128, 129, 257, 1000] + [rng.randint(65, 3000) for _ in range(10)]:
        text = char * n
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text), (seed, n)


def test_when_longer_runs_outrank_shorter_ones():
    # "aaaa" ranks before "aa": every pair joined makes a pair that must be
    # joined at once, so no whole-run step is allowed.  On a long piece this
    # takes so many one-pair steps that merge_run gives up and the general
    # loop finishes the piece; both must agree with tiktoken.
    ranks = {bytes([b]): b for b in range(256)}
    for k in (4, 2, 8, 3, 6):
        ranks[b"a" * k] = len(ranks)
    ours, theirs = both(ranks)
    for n in (65, 99, 300, 5000, 9001):
        text = "a" * n
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text), n


# -- one repeated character of 2-4 bytes --------------------------------------------------------
# Such a run is replayed on lengths counted in characters only when BPE
# provably makes every copy one token first (units_join_first); otherwise the
# general loop runs.  Both must agree with tiktoken.

MULTIBYTE = ("中文ーー—…。★═━é😀👍ñ\u3000\u00a0ـ" + "".join(
    chr(c) for c in random.Random(1).sample(range(0x80, 0x30000), 400) if not 0xD800 <= c <= 0xDFFF))


@pytest.mark.parametrize("chunk", range(4))
def test_multibyte_character_runs_like_tiktoken(qwen_enc_raw, tiktoken_ref, chunk):
    chars = MULTIBYTE[chunk::4]
    for char in chars:
        for n in (1, 2, 3, 16, 17, 22, 23, 33, 64, 65, 100, 257, 1000, 5000):
            text = char * n
            assert qwen_enc_raw.encode_ordinary(text) == tiktoken_ref.encode_ordinary(text), (hex(ord(char)), n)


def made_up_character_vocabulary(seed: int, char: str):
    """All 256 bytes; the character's own merges; runs of it; and, for some
    seeds, tokens that span two copies of it ranked before the character
    itself, so that it does not become one token first."""
    rng = random.Random(seed)
    b = char.encode()
    ranks = {bytes([x]): x for x in range(256)}
    for k in range(2, len(b) + 1):            # the character's own joins, left to right
        ranks.setdefault(b[:k], len(ranks))
    multiples = [k for k in range(2, 9) if k == 2 or rng.random() < 0.7]
    crossing = [b[-1:] + b[:1], b[1:] + b[:1], b[-1:] + b] if seed % 2 else []
    extra = [b * k for k in multiples] + crossing
    rng.shuffle(extra)
    for token in extra:
        ranks.setdefault(token, len(ranks))
    if seed % 4 == 1:                         # a crossing pair before the character itself
        ranks = {tok: r for tok, r in ranks.items() if tok != b}
        ranks[b] = len(ranks)
        ranks = {tok: i for i, tok in enumerate(sorted(ranks, key=ranks.get))}
    return ranks


@pytest.mark.parametrize("seed", range(40))
def test_made_up_character_vocabularies_like_tiktoken(seed):
    char = ["é", "中", "😀", "ñ"][seed % 4 if seed % 4 != 1 else (seed // 4) % 4]
    ours, theirs = both(made_up_character_vocabulary(seed, char))
    rng = random.Random(seed)
    for n in [17, 22, 33, 50, 64, 65, 100] + [rng.randint(17, 2000) for _ in range(8)]:
        text = char * n
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text), (seed, char, n)


# -- a long piece that repeats a few bytes ------------------------------------------------------
# From 4096 bytes, a piece with a period of 2..16 bytes is merged one period
# at a time when some phase of the period is spanned by no token
# (merge_periodic); otherwise the general loops take it.  Both must agree
# with tiktoken, whichever phase the stretches start at and however the
# piece ends.

def _periodic_cut(enc, text):
    from qtok import _bpe
    return _bpe._periodic_cut(enc._core, text.encode())


def rotations_to(unit: str, lengths):
    """unit, started at each of its characters, repeated to each length."""
    for r in range(len(unit)):
        turned = unit[r:] + unit[:r]
        for n in lengths:
            yield (turned * (n // len(turned) + 1))[:n]


def test_crlf_indented_blank_lines_take_the_periodic_path(qwen_enc_raw, tiktoken_ref):
    # The pattern takes "\r\n  " repeated as one piece up to its last line
    # break; no Qwen token spans a line break followed by two or three spaces
    # there.  With four, "\r\n    \r\n" is a token and spans every phase.
    for unit, periodic in (("\r\n  ", True), ("\r\n   ", True), ("\r\n    ", False)):
        for text in rotations_to(unit, (4096, 4097, 4099, 5003)):
            piece = text[:text.rindex("\n") + 1]
            if len(piece) >= 4096:
                assert (_periodic_cut(qwen_enc_raw, piece) is not None) == periodic, (repr(unit), len(text))
            assert qwen_enc_raw.encode_ordinary(text) == tiktoken_ref.encode_ordinary(text), (repr(unit), len(text))


def periodic_units(seed: int, count: int):
    """Random units of 2-6 characters: whitespace, punctuation, letters,
    multi-byte letters and marks."""
    rng = random.Random(seed)
    alphabets = [" \t\r\n", " \r\n\u3000", "-=_*#~.", "ab", "abc", "éa", "中文ー", "\u0915\u094d\u0937", "a\u0301"]
    for _ in range(count):
        chars = rng.choice(alphabets)
        yield "".join(rng.choice(chars) for _ in range(rng.randint(2, 6)))


@pytest.mark.parametrize("seed", range(4))
def test_periodic_pieces_like_tiktoken(qwen_enc_raw, tiktoken_ref, seed):
    for unit in periodic_units(seed, 12):
        for text in rotations_to(unit, (1400, 4100)):
            assert qwen_enc_raw.encode_ordinary(text) == tiktoken_ref.encode_ordinary(text), (repr(unit), len(text))


def made_up_periodic_vocabulary(seed: int, unit: bytes):
    """All 256 bytes, then substrings of the repeated unit of 2 to len(unit)
    bytes, in a shuffled order, so that some phases of the period are spanned
    and some not; for every third seed also some longer than the period,
    which span them all."""
    rng = random.Random(seed)
    ranks = {bytes([b]): b for b in range(256)}
    stream = unit * 4
    longest = len(unit) + 2 if seed % 3 == 0 else len(unit)
    tokens = {stream[i:i + k] for i in range(len(unit)) for k in range(2, longest + 1) if rng.random() < 0.15}
    for token in rng.sample(sorted(tokens), len(tokens)):
        ranks[token] = len(ranks)
    return ranks


def test_made_up_periodic_vocabularies_like_tiktoken():
    rng = random.Random(5)
    fast = slow = 0
    for seed in range(40):
        unit = "".join(rng.choice("abcd") for _ in range(rng.randint(2, 7)))
        ours, theirs = both(made_up_periodic_vocabulary(seed, unit.encode()))
        for text in rotations_to(unit, (4096, 4101 + seed)):
            if _periodic_cut(ours, text) is None:
                slow += 1
            else:
                fast += 1
            assert ours.encode_ordinary(text) == theirs.encode_ordinary(text), (seed, unit, len(text))
    # Both ways were taken, or the test proves less than it says.
    assert fast > 50 and slow > 50, (fast, slow)
