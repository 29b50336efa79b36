"""Generate qtok/_nfc_table.h: qtok's NFC data, as Hugging Face normalizes.

Qwen2 and later normalize with Hugging Face ``tokenizers``' NFC, whose tables
come from its Rust normalization crate and are older (Unicode 9.0) than any
Python's ``unicodedata`` (14.0 on 3.11, 15.x on 3.12 and 3.13, 16.0 on 3.14).
Marks added since then -- Malayalam U+0D3B/U+0D3C, Dogra U+1183A, Arabic
U+0898 -- are plain starters to it.  So the table is taken from ``tokenizers``
itself, by asking its normalizers, never from ``unicodedata``; it is checked
in, and every Python builds the same qtok.

  decompositions  NFD of each code point alone (one call on all of them,
                  separated by line feeds, which nothing joins or crosses).
  combining class a mark is what canonical ordering moves: "a" + x + y is
                  reordered exactly when both are marks and class(x) >
                  class(y).  Two probes find the marks; each is then placed
                  among reference marks of every class, and must land on one.
  composing pairs every code point that is NFC alone but decomposes is a
                  primary composite: NFC of its decomposition without the
                  last character, and that last character.  Hangul syllables
                  are composed by arithmetic instead.

Per code point, 16 bits:
  bits 0-7  canonical combining class
  NO        NFC(c) != c: c never appears in NFC text (exclusions, singletons)
  MAYBE     c is the second of a pair that composes (it may join the
            character before it), or a conjoining Hangul vowel / trailing
            consonant
  DECOMP    NFD(c) != c
Then the full decompositions (sorted by code point, into one array) and the
composing pairs (first << 21 | second, sorted, with their composites).

Run after upgrading tokenizers:  python tools/gen_nfc_table.py
tests/test_nfc.py holds qtok's normalizer to tokenizers on every code point,
so a table that no longer matches fails the tests.
"""
from __future__ import annotations

import pathlib
import sys
import unicodedata

import tokenizers
from tokenizers.normalizers import NFC, NFD

NO = 1 << 8
MAYBE = 1 << 9
DECOMP = 1 << 10

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
HANGUL_V = range(0x1161, 0x1176)       # conjoining vowels
HANGUL_T = range(0x11A8, 0x11C3)       # trailing consonants
LINE_FEED = "\n"

#: Marks whose Unicode version tells which tables tokenizers has: the first
#: is a mark since Unicode 9.0, the others since 10.0, 11.0 and 14.0.
UNICODE_VERSION = "9.0"
MARK_SINCE_9 = 0x08D4
NOT_YET_MARKS = (0x0D3B, 0x1183A, 0x0898)

CODE_POINTS = [x for x in range(0x110000) if not 0xD800 <= x <= 0xDFFF and chr(x) != LINE_FEED]

_nfd = NFD().normalize_str
_nfc = NFC().normalize_str


def each(normalize, texts: list[str]) -> list[str]:
    """normalize applied to each text, in one call: line feeds separate them."""
    out = normalize(LINE_FEED.join(texts)).split(LINE_FEED)
    assert len(out) == len(texts), "a normalized text gained or lost a line feed"
    return out


def combining_classes(decomposes: set[int]) -> dict[int, int]:
    """{code point: canonical combining class} for every mark, by probing
    canonical ordering.  Class numbers are Unicode's; only their order is
    observed, so the reference mark of each class is checked against all the
    others first."""
    def reordered(texts: list[str]) -> list[bool]:
        return [out != text for text, out in zip(texts, each(_nfd, texts))]

    lowest, highest = "\u0334", "\u0345"       # classes 1 and 240
    candidates = [x for x in CODE_POINTS if x not in decomposes]
    after_low = reordered(["a" + chr(x) + lowest for x in candidates])
    before_high = reordered(["a" + highest + chr(x) for x in candidates])
    marks = [x for x, p, q in zip(candidates, after_low, before_high) if p or q]
    marks += [ord(lowest), ord(highest)]

    # One reference mark per class; their order checked pairwise.
    refs: dict[int, int] = {}
    for x in sorted(marks):
        refs.setdefault(unicodedata.combining(chr(x)), x)
    refs.pop(0, None)
    classes = sorted(refs)
    texts = ["a" + chr(refs[k]) + chr(refs[j]) for k in classes for j in classes]
    swapped = iter(reordered(texts))
    for k in classes:
        for j in classes:
            assert next(swapped) == (k > j), f"classes {k} and {j} are not ordered as numbered"

    # Each mark: which references move past it, both ways.
    found: dict[int, int] = {}
    texts = [t for x in marks for k in classes
             for t in ("a" + chr(x) + chr(refs[k]), "a" + chr(refs[k]) + chr(x))]
    swapped = iter(reordered(texts))
    for x in marks:
        seen = [(next(swapped), next(swapped)) for _ in classes]
        fits = [c for c in classes
                if all(moves_x == (c > k) and moves_ref == (k > c)
                       for k, (moves_x, moves_ref) in zip(classes, seen))]
        assert len(fits) == 1, f"U+{x:04X}: no single combining class explains its ordering"
        found[x] = fits[0]
    return found


def nfc_data() -> tuple[list[int], dict[int, list[int]], list[tuple[int, int, int]]]:
    """(flags of every code point, {code point: full decomposition},
    [(first, second, composite)])."""
    chars = [chr(x) for x in CODE_POINTS]
    nfd = dict(zip(CODE_POINTS, each(_nfd, chars)))
    nfc = dict(zip(CODE_POINTS, each(_nfc, chars)))
    decompositions = {x: [ord(c) for c in d] for x, d in nfd.items()
                      if d != chr(x) and not HANGUL_FIRST <= x <= HANGUL_LAST}
    classes = combining_classes({x for x in CODE_POINTS if nfd[x] != chr(x)})

    pairs = []
    composites = [x for x in decompositions if nfc[x] == chr(x)]
    firsts = each(_nfc, [nfd[x][:-1] for x in composites])
    for x, first in zip(composites, firsts):
        assert len(first) == 1, f"U+{x:04X}: its decomposition does not split into a pair"
        pairs.append((ord(first), ord(nfd[x][-1]), x))
    for (a, b, x), joined in zip(pairs, each(_nfc, [chr(a) + chr(b) for a, b, _ in pairs])):
        assert joined == chr(x), f"U+{a:04X} U+{b:04X} does not compose to U+{x:04X}"

    flags = [0] * 0x110000
    for x in CODE_POINTS:
        f = classes.get(x, 0)
        if nfc[x] != chr(x):
            f |= NO
        if nfd[x] != chr(x):
            f |= DECOMP
        flags[x] = f
    for _, b, _ in pairs:
        flags[b] |= MAYBE
    for x in list(HANGUL_V) + list(HANGUL_T):
        flags[x] |= MAYBE
    for x, d in decompositions.items():
        # A decomposable character that is NFC but starts with a mark or with
        # a character that may join what precedes it is left to the full
        # normalizer by the quick check: call it NO.
        if flags[d[0]] & (MAYBE | 0xFF):
            flags[x] |= NO
        # The quick check reads a decomposable character's class as 0.
        assert not flags[x] & 0xFF or flags[x] & NO, f"U+{x:04X}: a mark that decomposes"

    assert flags[MARK_SINCE_9] & 0xFF and not any(flags[x] & 0xFF for x in NOT_YET_MARKS), \
        f"tokenizers {tokenizers.__version__} no longer has Unicode {UNICODE_VERSION}'s tables"
    return flags, decompositions, sorted(pairs)


def rows(values: list[str], per_line: int) -> list[str]:
    return ["    " + ", ".join(values[i:i + per_line]) + "," for i in range(0, len(values), per_line)]


def header_text() -> str:
    flags, decompositions, pairs = nfc_data()
    blocks: dict[tuple[int, ...], int] = {}
    index = []
    for b in range(0x110000 // 256):
        block = tuple(flags[b * 256:(b + 1) * 256])
        index.append(blocks.setdefault(block, len(blocks)))
    starts, data = [], []
    for x in sorted(decompositions):
        starts.append(len(data))
        data.extend(decompositions[x])
    starts.append(len(data))
    lines = [
        f"/* Generated by tools/gen_nfc_table.py from tokenizers {tokenizers.__version__}'s"
        " normalizers. Do not edit. */",
        f'#define QTOK_NFC_UNICODE_VERSION "{UNICODE_VERSION}"',
        f"#define QTOK_NFC_NO {NO}",
        f"#define QTOK_NFC_MAYBE {MAYBE}",
        f"#define QTOK_NFC_DECOMP {DECOMP}",
        f"static const unsigned short QTOK_NFC_INDEX[{len(index)}] = {{",
        *rows([str(i) for i in index], 24),
        "};",
        f"static const unsigned short QTOK_NFC_BLOCKS[{len(blocks)}][256] = {{",
        *["    {" + ", ".join(map(str, block)) + "}," for block in blocks],
        "};",
        "/* Full canonical decompositions (Hangul syllables apart): the code points",
        "   of QTOK_NFC_DECOMPOSED[i] decompose to QTOK_NFC_DECOMP_DATA",
        "   [QTOK_NFC_DECOMP_START[i] .. QTOK_NFC_DECOMP_START[i + 1]). */",
        f"#define QTOK_NFC_DECOMPOSED_COUNT {len(decompositions)}",
        f"static const unsigned int QTOK_NFC_DECOMPOSED[{len(decompositions)}] = {{",
        *rows([str(x) for x in sorted(decompositions)], 12),
        "};",
        f"static const unsigned short QTOK_NFC_DECOMP_START[{len(starts)}] = {{",
        *rows([str(s) for s in starts], 16),
        "};",
        f"static const unsigned int QTOK_NFC_DECOMP_DATA[{len(data)}] = {{",
        *rows([str(c) for c in data], 12),
        "};",
        "/* Composing pairs, first << 21 | second, sorted; and what each composes to. */",
        f"#define QTOK_NFC_PAIRS_COUNT {len(pairs)}",
        f"static const unsigned long long QTOK_NFC_PAIRS[{len(pairs)}] = {{",
        *rows([f"{a << 21 | b}ULL" for a, b, _ in pairs], 8),
        "};",
        f"static const unsigned int QTOK_NFC_COMPOSITES[{len(pairs)}] = {{",
        *rows([str(x) for _, _, x in pairs], 12),
        "};",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                        pathlib.Path(__file__).resolve().parent.parent / "qtok" / "_nfc_table.h")
    path.write_text(header_text(), encoding="utf-8")
    print(f"wrote {path}")
