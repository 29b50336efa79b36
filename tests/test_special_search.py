"""The native search for the start of a special token (qtok._bpe.holds_start),
which encode, count and encode_to_numpy ask before taking the fast path: it
reads a str's own 1-, 2- or 4-byte units, 16 bytes at a time for the wider
ones, so a hit on any unit of a block, or on the last unit, must be found."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import qtok
from qtok._bpe import holds_start

# One character of each width a str may be stored in, and the two of "<|".
ALPHABET = ["a", "é", "<", "|", "x", "中", "😀", "\ud800", " "]


def reference(text: str, starts) -> bool:
    for first, seconds in starts:
        for i, ch in enumerate(text):
            if ord(ch) == first and (not seconds or (i + 1 < len(text)
                                                    and ord(text[i + 1]) in seconds)):
                return True
    return False


STARTS = [
    ((ord("<"), (ord("|"),)),),
    ((ord("<"), (ord("|"), ord("t"))), (ord("😀"), ())),
    ((ord("中"), (ord("<"),)),),
    ((ord("|"), ()),),
    (),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=80).map("".join),
       st.sampled_from(STARTS))
def test_holds_start_equals_a_plain_search(text, starts):
    assert holds_start(text, starts) == reference(text, starts)


@pytest.mark.parametrize("filler", ["a", "é", "中", "😀"])
@pytest.mark.parametrize("length", [1, 7, 8, 15, 16, 17, 33, 3000])
def test_a_start_at_every_place_of_a_block_is_found(filler, length):
    starts = ((ord("<"), (ord("|"),)),)
    for at in range(max(0, length - 20), length - 1):
        text = filler * at + "<|" + filler * (length - at - 2)
        assert holds_start(text, starts), (filler, length, at)
        # "<" alone, or "|<" reversed, is not a start.
        assert not holds_start(text.replace("<|", "|<"), starts)
        assert not holds_start(text.replace("<|", "<" + filler), starts)
    # "<" as the very last unit has nothing after it.
    assert not holds_start(filler * length + "<", starts)


def test_a_first_character_wider_than_the_units_is_not_found():
    assert not holds_start("abc<|", ((ord("😀"), ()),))
    assert not holds_start("中文<|", ((ord("😀"), ()),))
    assert holds_start("中文😀", ((ord("😀"), ()),))


@pytest.mark.parametrize("filler", ["a", "é", "中", "😀"])
def test_encode_finds_a_special_token_anywhere_in_a_long_text(filler):
    enc = qtok.get_encoding("qwen")
    for at in (0, 5, 4093, 4096, 9999):
        text = filler * at + "<|endoftext|>" + filler * (10000 - at)
        with pytest.raises(ValueError, match="endoftext"):
            enc.encode(text)
        with pytest.raises(ValueError, match="endoftext"):
            enc.count(text)
        assert enc.encode(text, allowed_special="all").count(enc.eot_token) == 1


def test_start_codes_group_each_first_character():
    enc = qtok.get_encoding("qwen2.5")
    starts = dict(enc._special_start_codes)
    firsts = {s[0] for s in enc.special_tokens_set}
    assert set(starts) == {ord(f) for f in firsts}
    for s in enc.special_tokens_set:
        seconds = starts[ord(s[0])]
        assert not seconds or ord(s[1]) in seconds
