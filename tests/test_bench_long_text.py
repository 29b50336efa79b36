"""bench/long_text.py's texts: the corpus repeated, or the corpus followed by
stretches that share few of its words (--distinct).

Run on whichever corpus the benchmarks find (the bundled one at least).
"""
from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

long_text_bench = pytest.importorskip("long_text")
references = pytest.importorskip("references")

WORD = re.compile(r"[^\W\d_]{3,}")   # two-letter words: the reversal and the rotation agree


@pytest.fixture(scope="module")
def corpus() -> str:
    text = long_text_bench.corpus_bytes().decode()
    if not text:
        pytest.skip("no benchmark corpus")
    return text


def stretches(corpus: str) -> list[str]:
    """The distinct text's three stretches: the corpus, the corpus reversed
    (then in NFC), and the corpus's words rotated (then in NFC)."""
    whole = long_text_bench.corpus_bytes(distinct=True).decode()
    mirrored = long_text_bench.nfc_by_line(corpus[::-1])
    assert whole.startswith(corpus + "\n" + mirrored + "\n")
    return [corpus, mirrored, whole[len(corpus) + len(mirrored) + 2:]]


def test_the_distinct_text_is_the_corpus_then_two_stretches_of_its_length_in_nfc(corpus):
    rotated = stretches(corpus)[2]
    assert all(unicodedata.is_normalized("NFC", line) for line in rotated.split("\n"))
    assert abs(len(rotated) - len(corpus)) < len(corpus) // 100    # NFC composes a few marks
    assert rotated != corpus
    size = len(corpus.encode()) // 2
    assert long_text_bench.long_text(size, distinct=True) == long_text_bench.long_text(size)


def test_nfc_by_line_is_nfc_of_the_whole():
    text = "e\u0301\n\u0301a\u0327\u0301\nx\u0308\n\n\u1100\u1161\n" * 50
    assert long_text_bench.nfc_by_line(text) == unicodedata.normalize("NFC", text)


def test_the_distinct_stretches_share_few_words(corpus):
    words = [set(WORD.findall(s)) for s in stretches(corpus)]
    for a in range(3):
        for b in range(a + 1, 3):
            shared = len(words[a] & words[b]) / min(len(words[a]), len(words[b]))
            assert shared < 0.05, (a, b, shared)


def test_the_repeated_text_repeats_the_corpus(corpus):
    size = 2 * len(corpus.encode()) + 1000
    text = long_text_bench.long_text(size)
    assert text.startswith(corpus + corpus)
