"""The short cache of pieces (encode_short in qtok/native/piece_cache.pxi) when pieces compete.

A piece of 2..16 bytes goes to one pair of entries, picked by its hash.  A
pair holds whole tokens and merged pieces; a token never pushes out a merged
piece, a merged piece pushes out a token first, and a merged piece pushed
out goes to the big cache.  These tests make many pieces meet in one pair,
in every order, and check every encoding against tiktoken's, pass after pass
on the same cache.
"""
from __future__ import annotations

import gc
import os
import random
from collections import defaultdict

import pytest

import qtok
from qtok._bpe import _short_cache_pair


def crowded_pairs(ranks: dict[bytes, int], rng: random.Random) -> list[tuple[list[bytes], list[bytes]]]:
    """Groups of " word" pieces that share a pair of the short cache: the
    tokens among them and the made-up words (not tokens: they need merging)."""
    tokens = [t for t in ranks
              if 3 <= len(t) <= 16 and t[:1] == b" " and t[1:].isalpha() and t[1:].isascii()]
    made_up = {b" " + bytes(rng.randrange(97, 123) for _ in range(rng.randrange(4, 15)))
               for _ in range(200_000)} - set(ranks)
    groups: dict[int, tuple[list[bytes], list[bytes]]] = defaultdict(lambda: ([], []))
    for t in tokens:
        groups[_short_cache_pair(t)][0].append(t)
    for m in sorted(made_up):
        groups[_short_cache_pair(m)][1].append(m)
    return [g for g in groups.values() if g[0] and g[1] and len(g[0]) + len(g[1]) >= 4]


def test_pieces_competing_for_one_pair(qwen_ranks, tiktoken_ref):
    rng = random.Random(7)
    groups = crowded_pairs(qwen_ranks, rng)
    assert len(groups) >= 300, len(groups)
    texts = []
    for toks, merged in groups[:300]:
        pieces = toks + merged
        # Tokens first, merged pieces first, and a shuffle with repeats: every
        # way for a pair to fill and for its entries to be pushed out.
        for order in (toks + merged + toks, merged + toks + merged,
                      [rng.choice(pieces) for _ in range(3 * len(pieces))]):
            texts.append(b"".join(order).decode("ascii"))
    want = [tiktoken_ref.encode_ordinary(t) for t in texts]
    # A fresh Encoding: its own, empty caches.
    enc = qtok.Encoding("fresh-cache", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                        special_tokens=qtok.QWEN_SPECIAL_TOKENS, normalization=None)
    for _ in range(3):
        for text, ids in zip(texts, want):
            assert enc.encode_ordinary(text) == ids, text
        # And all of them in one text, so that one call sees them all.
        assert enc.encode_ordinary("".join(texts)) == [i for ids in want for i in ids]


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads resident memory from /proc")
def test_caches_are_given_back(qwen_ranks):
    # Each encoding thread's caches are ~26 MB of mapped memory; an Encoding
    # that goes away must unmap them (and only them: a wrong size would
    # unmap something else, or crash).
    def resident_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    rng = random.Random(2)
    words = " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(2, 9)))
                     for _ in range(20_000))
    before = None
    for i in range(12):
        enc = qtok.Encoding(f"short-lived-{i}", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                            special_tokens=qtok.QWEN_SPECIAL_TOKENS, normalization=None)
        assert enc.count(words) > 20_000
        del enc
        gc.collect()
        if i == 1:
            before = resident_mb()
    assert resident_mb() - before < 100, (before, resident_mb())


def test_forgotten_caches_encode_as_before(qwen_ranks, tiktoken_ref):
    """_forget_piece_caches (the first-pass benchmark's reset) unmaps the
    caches; the next encode maps fresh ones and must give the same ids, also
    when nothing was mapped yet or the reset is repeated."""
    from qtok._bpe import _forget_piece_caches
    enc = qtok.Encoding("forget", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                        special_tokens=qtok.QWEN_SPECIAL_TOKENS, normalization=None)
    _forget_piece_caches(enc._core)                  # nothing mapped yet
    rng = random.Random(3)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyzäöüß") for _ in range(rng.randrange(2, 14)))
             for _ in range(3000)]
    text = " ".join(words) + " 中文字符 " + " ".join(reversed(words))
    want = tiktoken_ref.encode_ordinary(text)
    for _ in range(3):
        assert enc.encode_ordinary(text) == want
        _forget_piece_caches(enc._core)
        _forget_piece_caches(enc._core)
    assert enc.encode_ordinary_batch([text] * 4, num_threads=2) == [want] * 4
    _forget_piece_caches(enc._core)
    assert enc.encode_ordinary(text) == want


def test_big_cache_emptied_when_full(qwen_ranks, tiktoken_ref):
    """Pieces of more than 16 bytes that need merging go to the big cache,
    which is emptied at once when it fills up (piece_cache.pxi, big_store).
    Its index shares a mapping with the pair cache, which every merge reads:
    encodings must stay exact through the emptying and after it."""
    from qtok._bpe import _big_cache_entries
    enc = qtok.Encoding("big-cache", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                        special_tokens=qtok.QWEN_SPECIAL_TOKENS, normalization=None)
    rng = random.Random(11)
    # 60,000 distinct made-up words of 18-25 letters: more than the 45,875
    # pieces the big cache takes before it is emptied (70% of its 65,536 slots).
    words = {"".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(18, 26)))
             for _ in range(60_000)}
    words = sorted(words)
    # Texts under the size from which a text is split, so that one thread,
    # with one cache, meets every word.
    texts = [" " + " ".join(words[i:i + 1500]) for i in range(0, len(words), 1500)]
    want = [tiktoken_ref.encode_ordinary(t) for t in texts]
    for text, ids in zip(texts, want):
        assert enc.encode_ordinary(text) == ids
    held = _big_cache_entries(enc._core)
    assert len(held) == 1 and 0 < held[0] < len(words), held      # emptied on the way
    for text, ids in zip(texts[:3] + texts[-3:], want[:3] + want[-3:]):
        assert enc.encode_ordinary(text) == ids
