"""The bulk scanner (qtok/native/bulk_scanner.pxi) against piece_end and the pattern.

The bulk scanner only starts on 64 or more bytes of ASCII and of the Latin
and Cyrillic letters its classes know, so the short strings of test_fuzz
rarely reach it.  Here every text is long enough for a window, and each
check is threefold: the pieces with the bulk scanner, the pieces from
piece_end alone (``bulk=False``), and the pattern's matches from the regex
module must be the same list.  ``bulk_coverage`` shows that the windows were
in fact used, so a check cannot pass by the bulk scanner quietly declining
every window.  The class bitmaps themselves are checked against the code
point classes (test_unicode_classes checks those against tiktoken), and the
SSE2 classifier against the plain byte loop that other CPUs use.
"""
from __future__ import annotations

import base64
import random
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus_files import LEIPZIG_FILES, file_params, read_text
from qwen_reference import first_piece_difference, pattern_pieces
from test_fuzz import fuzz
from qtok._bpe import (_bulk_coverage as bulk_coverage, _classify_block as classify_block,
                       _classify_paths as classify_paths, _code_point_class as code_point_class,
                       _split_pieces as split_pieces)

# The vector paths this CPU runs (SSE2 always on x86-64; AVX2 where the CPU
# has it), each checked against the byte loop, and the one classify64 picks.
SIMD_PATHS = [p for p in classify_paths() if p != "bytes"] + ["any"]

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


def test_windows_are_used_on_latin_and_cyrillic_prose():
    for text in ("Größe, naïve café, Straße; ÆØÅ ǅ ŉ ə " * 30, "Съешь же ещё этих мягких булок. " * 30,
                 "Tiếng Việt có dấu: người, được, những. " * 30):
        covered, windows = bulk_coverage(text)
        assert covered > 0.9 * len(text.encode()), (text[:20], covered, windows)
        three_ways(text)


def test_windows_are_used_without_spaces():
    # A window ends at a cut: a space before a word, or a digit (which is a
    # piece of its own whatever surrounds it).  Text without spaces --
    # base64, numbers and punctuation, identifiers -- is cut at its digits.
    b64 = base64.b64encode(random.Random(3).randbytes(3000)).decode()
    for text in (b64, "3.14159,2.71828;1.41421/" * 100, "x1=y2+z3*w4-v5;" * 100, "2024-11-29T18:13:29Z" * 60):
        covered, windows = bulk_coverage(text)
        assert covered > 0.9 * len(text), (text[:20], covered, windows)
        three_ways(text)


def test_no_windows_without_enough_bytes_of_known_classes():
    # Each byte of no class (here: em dash, Greek, CJK, no-break space) is
    # fewer than 64 bytes from the next: nothing to do in bulk.
    for text in ("naïve — café " * 200, "abc αβγ def " * 200, "日本語のテキスト" * 100, "a\u00a0b " * 200):
        assert bulk_coverage(text) == (0, 0), text[:20]
        three_ways(text)
    assert bulk_coverage("short ascii") == (0, 0)


# Runs whose pieces depend on their neighbours; letters of two and three
# bytes, split by the word edge in every way; bytes of no class (× ÷ and
# U+0482-0489 share lead bytes with letters).
OTHERS = ["  ", "   ", "    ", "\t\t\t", " \t ", "\n\n", " \n", "\n  ", "  \n", "\r\n", "  \r\n  ",
          " \n \n", ".\n\n", "!!\r\n ", "'s", "'LL", "''d", "'t'", "'ſ", "42",
          "é", "ÿ", "Ā", "ſ", "ǅ", "ʯ", "ж", "Ѐ", "ӿ", "ҋ", "ệ", "Ḁ", "ỿ", " é", ".é", "1é", "\né", "'é",
          "×", "÷", "҂", "\u0483", "ʰ", "\u0301", "α", "\u00a0", "\u2028", "—", "中", "ἀ"]


@pytest.mark.parametrize("place", [0, 1, 61, 62, 63, 64, 65, 126, 127, 128, 200, 511, 512, 1022, 1023, 1024, 1025])
def test_every_ascii_byte_at_word_edges(place):
    # Every ASCII character, and the others above, at both sides of the
    # 64-byte words and 1024-byte windows of the bitmaps, and the text
    # ending right after it or a little later.
    base = PROSE * 12
    bad = []
    for c in [chr(b) for b in range(128)] + OTHERS:
        for end in (place + 1, place + 7, len(base)):
            text = (base[:place] + c + base[place:])[:end + len(c)]
            bulk = split_pieces(text)
            if bulk != pattern_pieces(text) or bulk != split_pieces(text, False):
                bad.append(text)
    assert not bad, [(t[max(0, place - 5):place + 5], first_piece_difference(split_pieces(t), pattern_pieces(t)))
                     for t in bad[:3]]


ASCII_ATOMS = (list("abcxyzABCXYZ0123456789") + [" ", " ", "  ", "   ", "\t", "\n", "\r\n", "\r",
               "\x0b", "\x0c", " \n", "\n ", "\t\n\t"] + list(".,;:!?-_()[]{}\"#$%&*+/<=>@\\^|~`\x00\x7f")
               + ["'", "'s", "'S", "'t", "'re", "'Ve", "'m", "'ll", "'LL", "'d", "'x", "''s"]
               + ["the", " the", "word", " word", "don't", "O'Neil", "it's", "We'RE", "x1y2", "3.14"])
LETTER_ATOMS = list("éèÉßøæÿĀłŁőřšžſǅǰəʯ" "жЖёЁщӀӿҋѢ" "ệỆơưđḀỿ") + ["Größe", " ёлка", "việt", "'ſ", "łódź"]
# A few bytes of no class, to end windows in every place.
RARE_ATOMS = ["\u00a0", "\u3000", "中", "\u2028", "\x85", "×", "÷", "҂", "\u0483", "’", "«", "α"]


@given(head=st.integers(0, 40),
       body=st.lists(st.sampled_from(ASCII_ATOMS * 6 + LETTER_ATOMS * 3 + RARE_ATOMS), min_size=1, max_size=500))
@fuzz(400)
def test_long_text_of_known_classes(head, body):
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


SPACELESS_ATOMS = [a for a in ASCII_ATOMS if " " not in a] + ["é", "ж", "ệ", "'s", "1", "22", "+/", "=="]


@given(body=st.lists(st.sampled_from(SPACELESS_ATOMS), min_size=1, max_size=600))
@fuzz(300)
def test_long_text_without_spaces(body):
    # Digits as the only cuts, next to everything else.
    three_ways("0" + "".join(body))


@pytest.mark.parametrize("path", file_params(LEIPZIG_FILES, "no Leipzig files"))
def test_whole_files_bulk_equals_scalar(path):
    # (Their pieces against the pattern: test_exact.test_pieces_of_whole_files.)
    text = unicodedata.normalize("NFC", read_text(path))
    bulk, scalar = split_pieces(text), split_pieces(text, False)
    assert bulk == scalar, first_piece_difference(bulk, scalar)


# -- the class bitmaps --------------------------------------------------------------------

@given(block=st.binary(min_size=65, max_size=65)
       | st.lists(st.sampled_from(list(range(256)) + [0xC3, 0xD2, 0xE1, 0x97, 0xB7, 0x82, 0x89,
                                                      0xB8, 0xBB, 0xC4, 0xCA, 0xD0, 0xD3] * 8),
                  min_size=65, max_size=65).map(bytes))
@fuzz(2000)
def test_simd_classes_equal_the_byte_loop(block):
    want = classify_block(block, path="bytes")
    for path in SIMD_PATHS:
        assert classify_block(block, path=path) == want, path


def test_every_byte_pair_in_both_classifiers():
    # Each lead byte with each following byte, at the places where the
    # vector code changes lanes (15/16 for SSE2, 31/32 for AVX2) and words
    # (63, whose next byte is the 65th).
    for place in (0, 15, 31, 63):
        for lead in range(256):
            for nxt in range(256):
                block = bytearray(b"a" * 65)
                block[place], block[place + 1] = lead, nxt
                block = bytes(block)
                want = classify_block(block, path="bytes")
                for path in SIMD_PATHS:
                    assert classify_block(block, path=path) == want, (path, place, lead, nxt)


def char_bits(ch: str, place: int) -> dict[str, int]:
    block = (b"a" * place + ch.encode() + b"a" * 65)[:65]
    return classify_block(block)


def test_letter_bits_only_on_letters():
    # Every character of two bytes and every one of three bytes with lead
    # E1: classify64 calls all of its bytes letters (the first ones here,
    # the rest spilled to the next word at place 63) only if it is a
    # letter; and it does so for the whole blocks it was made for.
    made_for = [range(0xC0, 0x2B0), range(0x400, 0x500), range(0x1E00, 0x1F00)]
    for cp in list(range(0x80, 0x800)) + list(range(0x1000, 0x2000)):
        ch = chr(cp)
        size = len(ch.encode())
        is_letter = bool(code_point_class(cp) & 1)
        for place in (10, 63):
            bits = char_bits(ch, place)
            mine = ((1 << size) - 1) << place
            spilled = mine >> 64
            mine &= (1 << 64) - 1
            called_letter = bits["letter"] & mine == mine and bits["spill"] == spilled
            assert not (called_letter and not is_letter), hex(cp)
            if is_letter and any(cp in r for r in made_for):
                assert called_letter, hex(cp)
            if not called_letter:
                assert bits["high"] >> place & 1, hex(cp)       # a window stops there
                assert bits["letter"] & mine == 0 and bits["spill"] == 0, hex(cp)


@pytest.mark.parametrize("run", [2, 63, 64, 65, 1000, 1024, 1025, 3000])
@pytest.mark.parametrize("where", ["prose", "base64", "cyrillic", "no window"])
def test_digit_runs_encoded_whole(qwen_enc_raw, tiktoken_ref, run, where):
    # The encoder takes a run of ASCII digits as one entry (every digit is a
    # piece) and moves the scanner's walk past it, inside a window or beyond
    # its cut: runs of every length at every offset of surrounding text that
    # the windows cover (and of text they do not), against tiktoken.
    rng = random.Random(run)
    around = {"prose": PROSE * 30,
              "base64": base64.b64encode(rng.randbytes(2000)).decode(),
              "cyrillic": "Съешь же ещё этих мягких булок. " * 40,
              "no window": "日本語のテキスト、" * 60}[where]
    digits = "".join(rng.choice("0123456789") for _ in range(run))
    texts = []
    for _ in range(12):
        cut = rng.randrange(len(around))
        texts.append(around[:cut] + digits + around[cut:])
    texts += [digits, digits + around, around + digits, digits + " " + digits + "\n" + digits + "x"]
    for text in texts:
        assert qwen_enc_raw.encode_ordinary(text) == tiktoken_ref.encode_ordinary(text)
