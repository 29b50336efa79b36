"""The bulk scanner (section 2b of _bpe.pyx) against piece_end and the pattern.

The bulk scanner only starts on 64 or more bytes of ASCII, so the short
strings of test_fuzz rarely reach it.  Here every text is long enough for a
window, and each check is threefold: the pieces with the bulk scanner, the
pieces from piece_end alone (``bulk=False``), and the pattern's matches from
the regex module must be the same list.  ``bulk_coverage`` shows that the
windows were in fact used, so a check cannot pass by the bulk scanner
quietly declining every window.
"""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus_files import LEIPZIG_FILES, file_params, read_text
from qwen_reference import first_piece_difference, pattern_pieces
from test_fuzz import fuzz
from qtok._bpe import bulk_coverage, split_pieces

PROSE = ("The quick brown fox jumps over the lazy dog, and then it doesn't stop: "
         "it runs 12 miles (about 19 km) before breakfast.\n")


def three_ways(text: str) -> None:
    bulk, scalar = split_pieces(text), split_pieces(text, False)
    assert bulk == scalar, first_piece_difference(bulk, scalar)
    assert scalar == pattern_pieces(text), first_piece_difference(scalar, pattern_pieces(text))


def test_windows_are_used_on_ascii_prose():
    text = PROSE * 40
    covered, windows = bulk_coverage(text)
    assert windows >= 3 and covered > 0.9 * len(text), (covered, windows)
    three_ways(text)


def test_no_windows_without_enough_ascii():
    # Each high byte is fewer than 64 bytes from the next: nothing to do in bulk.
    assert bulk_coverage("naïve café " * 200) == (0, 0)
    assert bulk_coverage("short ascii") == (0, 0)


# Runs whose pieces depend on their neighbours, and a few characters beyond ASCII.
OTHERS = ["  ", "   ", "    ", "\t\t\t", " \t ", "\n\n", " \n", "\n  ", "  \n", "\r\n", "  \r\n  ",
          " \n \n", ".\n\n", "!!\r\n ", "'s", "'LL", "''d", "'t'", "42", "é", "\u00a0", "\u2028", "中"]


@pytest.mark.parametrize("place", [0, 1, 61, 62, 63, 64, 65, 126, 127, 128, 200, 511, 512, 1022, 1023, 1024, 1025])
def test_every_ascii_byte_at_word_edges(place):
    # Every ASCII character, and some beyond ASCII, at both sides of the
    # 64-byte words and 1024-byte windows of the bitmaps, and the text
    # ending right after it or a little later.
    base = PROSE * 12
    bad = []
    for c in [chr(b) for b in range(128)] + OTHERS:
        for end in (place + 1, place + 7, len(base)):
            text = (base[:place] + c + base[place:])[:end + len(c)]
            if split_pieces(text) != pattern_pieces(text) or split_pieces(text) != split_pieces(text, False):
                bad.append(text)
    assert not bad, [(t[max(0, place - 5):place + 5], first_piece_difference(split_pieces(t), pattern_pieces(t)))
                     for t in bad[:3]]


ASCII_ATOMS = (list("abcxyzABCXYZ0123456789") + [" ", " ", "  ", "   ", "\t", "\n", "\r\n", "\r",
               "\x0b", "\x0c", " \n", "\n ", "\t\n\t"] + list(".,;:!?-_()[]{}\"#$%&*+/<=>@\\^|~`\x00\x7f")
               + ["'", "'s", "'S", "'t", "'re", "'Ve", "'m", "'ll", "'LL", "'d", "'x", "''s"]
               + ["the", " the", "word", " word", "don't", "O'Neil", "it's", "We'RE", "x1y2", "3.14"])
# A few bytes beyond ASCII, to end windows in every place.
RARE_ATOMS = ["é", "\u00a0", "\u3000", "中", "\u2028", "\x85"]


@given(head=st.integers(0, 40),
       body=st.lists(st.sampled_from(ASCII_ATOMS * 12 + RARE_ATOMS), min_size=1, max_size=500))
@fuzz(400)
def test_ascii_heavy_text(head, body):
    # A run of plain words so that a window starts, then anything.
    three_ways("xy " * head + "".join(body))


@given(lines=st.lists(st.tuples(st.sampled_from(["", " ", "  ", "\t", " \t "]),
                                st.text(alphabet="ab '.,1", min_size=0, max_size=30),
                                st.sampled_from(["\n", "\r\n", " \n", "\n\n", "  \n  \n", "\t\r\n \n"])),
                      min_size=1, max_size=80))
@fuzz(300)
def test_whitespace_around_line_ends(lines):
    # Indented lines and runs of mixed spaces and line ends: the cases where
    # \s*[\r\n]+ and \s+(?!\S) decide, including the one the bitmaps hand
    # back to piece_end (spaces between two line ends of one run).
    three_ways("word " * 20 + "".join(indent + line + end for indent, line, end in lines))


@pytest.mark.parametrize("path", file_params(LEIPZIG_FILES, "no Leipzig files"))
def test_whole_files_bulk_equals_scalar(path):
    # (Their pieces against the pattern: test_exact.test_pieces_of_whole_files.)
    text = unicodedata.normalize("NFC", read_text(path))
    bulk, scalar = split_pieces(text), split_pieces(text, False)
    assert bulk == scalar, first_piece_difference(bulk, scalar)
