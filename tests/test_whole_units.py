"""Merges that start from whole units (whole_unit_at in
qtok/native/merge_small.pxi).

A character of 2 or 3 bytes that merges alone into one token, or two bytes
that are a token, starts a merge as that token, instead of as its bytes, when
the highest rank among its own joins is below the lowest rank of any token
holding the byte pair across either of its edges.  These tests hold that rule
two ways:

- the parts qtok starts from equal a model of the rule written here from its
  statement, on the Qwen vocabulary;
- the ids equal tiktoken's, which always starts from bytes: on the Qwen
  vocabulary, and on small made-up vocabularies whose ranks are shuffled so
  that tokens across units' edges often outrank the units, on pieces of every
  merge form (up to 64 bytes, up to 4 KiB, longer) and on bytes that are not
  valid UTF-8.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qtok
from qtok._bpe import _first_parts, _forget_piece_caches

NOT_FOUND = 2**32 - 1


# -- a model of the rule ------------------------------------------------------------------

class RuleModel:
    """whole_unit_at, from the ranks: for each character that is one token,
    the highest rank among the joins that make it from its bytes; for each
    byte pair, the lowest rank of a token holding it."""

    def __init__(self, ranks: dict[bytes, int]):
        self.ranks = ranks
        self.span = {}
        for token, rank in ranks.items():
            for k in range(1, len(token)):
                pair = token[k - 1:k + 1]
                self.span[pair] = min(self.span.get(pair, NOT_FOUND), rank)

    def highest_join(self, char: bytes) -> int | None:
        """The highest rank among the joins of char's bytes merged alone, when
        they end as one token; None otherwise."""
        parts = [char[i:i + 1] for i in range(len(char))]
        highest = -1
        while len(parts) > 1:
            found = [(self.ranks[a + b], i) for i, (a, b) in enumerate(zip(parts, parts[1:]))
                     if a + b in self.ranks]
            if not found:
                return None
            rank, i = min(found)
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
            highest = max(highest, rank)
        return highest

    def first_parts(self, piece: bytes) -> list[tuple[int, int]]:
        parts, i = [], 0
        while i < len(piece):
            width = self.unit_width(piece, i)
            parts.append((width, self.ranks[piece[i:i + width]]))
            i += width
        return parts

    def unit_width(self, piece: bytes, i: int) -> int:
        """The character at i if it may start whole, else the pair of bytes
        at i if it may, else 1."""
        lead = piece[i]
        if 0xC2 <= lead < 0xF0:
            width = 2 if lead < 0xE0 else 3
            char = piece[i:i + width]
            try:
                one_char = len(char) == width and len(char.decode("utf-8")) == 1
            except UnicodeDecodeError:
                one_char = False
            if one_char and self.may_start_whole(piece, i, width, self.highest_join(char)):
                return width
        if self.may_start_whole(piece, i, 2, self.ranks.get(piece[i:i + 2])):
            return 2
        return 1

    def may_start_whole(self, piece: bytes, i: int, width: int, highest: int | None) -> bool:
        end = i + width
        if highest is None or end > len(piece):
            return False
        if i > 0 and highest >= self.span.get(piece[i - 1:i + 1], NOT_FOUND):
            return False
        return end == len(piece) or highest < self.span.get(piece[end - 1:end + 1], NOT_FOUND)


@pytest.fixture(scope="module")
def qwen_model(qwen_ranks):
    return RuleModel(qwen_ranks)


MIXED_TEXT = (
    "Права человека: всеобщая декларация. 人人生而自由，在尊严和权利上一律平等。"
    "すべての人間は、生まれながらにして自由であり、 모든 인간은 태어날 때부터 자유로우며 "
    "ทุกคนเกิดมามีอิสระและเสมอภาคกัน كل الناس يولدون أحراراً ومتساوين "
    "כל בני האדם נולדו בני חורין सभी मनुष्यों को गौरव और अधिकारों के मामले में "
    "Všichni lidé rodí se svobodní. Tüm insanlar özgür doğarlar. Mọi người sinh ra đều được tự do "
    "Ελληνικά ΑΒΓ ﬁ € “quoted” — naïve café"
)


def test_first_parts_follow_the_rule_on_qwen(qwen_enc_raw, qwen_model):
    core = qwen_enc_raw._core
    chars = pairs = 0
    for word in MIXED_TEXT.split() + [" " + w for w in MIXED_TEXT.split()] + [MIXED_TEXT[:60]]:
        piece = word.encode()
        got = _first_parts(core, piece)
        assert got == qwen_model.first_parts(piece), word
        at = 0
        for width, _ in got:
            if width > 1:
                whole_char = piece[at] >= 0xC2 and len(piece[at:at + width].decode("utf-8", "replace")) == 1
                chars += whole_char
                pairs += not whole_char
            at += width
    # The rule lets many of these characters and byte pairs start whole: a
    # test that never met one would be testing nothing.
    assert chars > 200 and pairs > 20


def test_a_character_after_a_space_starts_as_bytes_when_a_token_spans_the_space(qwen_enc_raw, qwen_ranks):
    # " \xd0" (a space then the lead byte of most Cyrillic letters) is a token,
    # and outranks the letter "п": the letter may not start whole after a
    # space, though it does inside a word.
    letter = qwen_ranks["п".encode()]
    assert qwen_ranks[b" \xd0"] < letter
    core = qwen_enc_raw._core
    assert all(token != letter for _, token in _first_parts(core, " п".encode()))
    assert (2, letter) in _first_parts(core, "спп".encode())


@pytest.mark.parametrize("piece", [
    b"\xe0\x82\x80",            # the overlong form of U+0080, which is a token as c2 80
    b"\xc0\x80", b"\xc1\xbf",   # overlong two-byte forms
    b"\xed\xa0\x80",            # a surrogate's bytes
    b"\xe4\xb8", b"\xd0",       # cut short
    b"\x80\xbf\x80",            # continuation bytes alone
    b"\xf0\x9f\x98\x80",        # four bytes: never whole
    b"\xe4\xb8\xad\xe0\x82\x80\xd0\xbf\xd0",
])
def test_bytes_that_are_not_one_character_never_start_as_one(qwen_enc_raw, qwen_model, tiktoken_ref,
                                                            piece):
    core = qwen_enc_raw._core
    parts = _first_parts(core, piece)
    assert parts == qwen_model.first_parts(piece)
    at = 0
    for width, _ in parts:                             # only a whole character spans 3
        assert width < 3 or len(piece[at:at + 3].decode("utf-8")) == 1
        at += width
    assert qwen_enc_raw._encode_single_piece(piece) == tiktoken_ref._encode_single_piece(piece)


# -- the ids, against tiktoken ------------------------------------------------------------

SCRIPTS = ("абвгдежзийклмнопрстуфхцчшщъыьэюяАБВ" "αβγδεζηθ" "אבגדהוזחט" "ابتثجحخدذرزس"
           "कखगघचछजझटठडढणतथदधनपफबभमयरलवशसह" "กขคงจฉชซญดตถทนบปผพฟภมยรลวศสหอฮ"
           "人人生而自由在尊严和权利上一律平等的是了我不" "あいうえおかきくけこアイウエオ" "가나다라마바사아자차카타파하한국어"
           "éèêëàâîïôûùüÿçœæñäößčřšžůýáíóúěłńśźżğış")
scripts_text = st.text(alphabet=st.sampled_from(list(SCRIPTS) + [" "] * 6 + ["a", "e", ",", "."]),
                       min_size=1, max_size=120)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts_text)
def test_scripts_like_tiktoken(qwen_enc_raw, tiktoken_ref, text):
    assert qwen_enc_raw.encode_ordinary(text) == tiktoken_ref.encode_ordinary(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(SCRIPTS)), min_size=1, max_size=1600))
def test_one_long_piece_like_tiktoken(qwen_enc_raw, tiktoken_ref, chars):
    # One piece of up to about 4.8 KB: merge_small, merge_heap and merge_huge.
    piece = "".join(chars).encode()
    assert qwen_enc_raw._encode_single_piece(piece) == tiktoken_ref._encode_single_piece(piece)


@pytest.mark.parametrize("length", [64, 65, 255, 256, 257, 4095, 4096, 5000])
def test_long_pieces_of_text_like_tiktoken(qwen_enc_raw, tiktoken_ref, length):
    rng = random.Random(length)
    piece = "".join(rng.choice(SCRIPTS) for _ in range(length)).encode()[:length]
    piece = piece.decode("utf-8", "ignore").encode()
    _forget_piece_caches(qwen_enc_raw._core)
    assert qwen_enc_raw._encode_single_piece(piece) == tiktoken_ref._encode_single_piece(piece)


def utf8_with_damage():
    """Bytes of text in several scripts, some of them cut, repeated or made
    overlong: whatever merge_small may be handed through _encode_single_piece."""
    char = st.sampled_from(list(SCRIPTS) + ["a", " "]).map(str.encode)
    damage = st.sampled_from([b"\xe0\x82\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xe4", b"\xb8",
                              b"\xd0", b"\x80", b"\xff", b"\xf0\x9f\x98\x80"])
    return st.lists(st.one_of(char, char, char, damage), min_size=1, max_size=90).map(b"".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(utf8_with_damage())
def test_damaged_utf8_like_tiktoken(qwen_enc_raw, tiktoken_ref, piece):
    assert qwen_enc_raw._encode_single_piece(piece) == tiktoken_ref._encode_single_piece(piece)


# -- made-up vocabularies -----------------------------------------------------------------

ALPHABET = ["п", "и", "р", "中", "文", "字", "é", "a", " ", "\u0800"]


def made_up_vocabulary(seed: int) -> dict[bytes, int]:
    """All 256 bytes, then byte strings cut from random text in ALPHABET --
    whole characters, parts of one, strings across the edge of two, several
    characters -- in a shuffled order, so that tokens across edges outrank
    characters as often as not."""
    rng = random.Random(seed)
    ranks = {bytes([b]): b for b in range(256)}
    found = set()
    for _ in range(400):
        text = "".join(rng.choice(ALPHABET) for _ in range(4)).encode()
        start = rng.randrange(len(text) - 1)
        found.add(text[start:start + rng.randint(2, 6)])
    for char in ALPHABET:                 # most characters are tokens
        if rng.random() < 0.8:
            found.add(char.encode())
    tokens = sorted(t for t in found if len(t) >= 2)
    rng.shuffle(tokens)
    for token in tokens:
        ranks[token] = len(ranks)
    return ranks


def made_up_pieces(seed: int) -> list[bytes]:
    rng = random.Random(seed ^ 0x5EED)
    pieces = []
    for length in [2, 3, 5, 8, 13, 21, 30, 60, 100, 300, 5000]:
        for _ in range(4 if length < 1000 else 1):
            text = "".join(rng.choice(ALPHABET) for _ in range(length)).encode()
            if rng.random() < 0.3:        # a cut character somewhere
                cut = rng.randrange(len(text))
                text = text[:cut] + text[cut + 1:]
            pieces.append(text)
    return pieces


@pytest.mark.parametrize("seed", range(40))
def test_shuffled_vocabularies_like_tiktoken(seed):
    import tiktoken
    ranks = made_up_vocabulary(seed)
    ours = qtok.Encoding("made-up", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=ranks, special_tokens={})
    theirs = tiktoken.Encoding("made-up", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=ranks,
                               special_tokens={})
    model = RuleModel(ranks)
    for piece in made_up_pieces(seed):
        if len(piece) <= 300:
            assert _first_parts(ours._core, piece) == model.first_parts(piece), (seed, piece)
        assert ours._encode_single_piece(piece) == theirs._encode_single_piece(piece), (seed, piece)
        text = piece.decode("utf-8", "replace")
        assert ours.encode_ordinary(text) == theirs.encode_ordinary(text), (seed, text)
