"""The int objects in result lists (qtok/native/result_lists.pxi,
qtok/include/qtok/pyint.h).

Every id has one shared int object, made once per process.  Where ints are
everlasting, those objects are copies of CPython's ints laid out in id order
in a block of qtok's own, so that a list finds the object of an id by
arithmetic.  They must be ints in every way a program can tell, and the
memory they live in must never be handed to CPython's allocator.
"""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np

import qtok
from qtok import _bpe


def test_shared_ints_hold_every_id_in_order(qwen_enc_raw):
    shared = _bpe._shared_ints()
    n = qwen_enc_raw.n_vocab
    assert len(shared) >= n
    assert all(type(x) is int and x == k for k, x in enumerate(shared))
    if _bpe._int_block():
        # One object every 32 (or 64) bytes, in id order: what the arithmetic
        # assumes.
        base = id(shared[0])
        stride = id(shared[1]) - base
        assert stride in (32, 64) and stride >= sys.getsizeof(shared[1])
        assert all(id(x) - base == stride * k for k, x in enumerate(shared))


def test_result_ids_are_the_shared_objects(qwen_enc_raw):
    shared = _bpe._shared_ints()
    ids = qwen_enc_raw.encode_ordinary("Hello, world! Привет, мир. 你好，世界。 ☃ 0123")
    assert all(x is shared[x] for x in ids)


def test_id_objects_behave_as_ints(qwen_enc_raw):
    shared = _bpe._shared_ints()
    last = qwen_enc_raw.n_vocab - 1
    for k in (0, 1, 5, 255, 256, 257, 1000, 65535, 65536, 151642, last):
        x = shared[k]
        plain = int(str(k))                       # an int CPython made itself
        assert type(x) is int and x == plain and not (x != plain)
        assert hash(x) == hash(plain) and {plain: "v"}[x] == "v"
        assert str(x) == repr(x) == str(k)
        assert x + 1 == k + 1 and x * 3 == 3 * k and -x == -k and x // 1 == k
        assert x.bit_length() == k.bit_length() and x.to_bytes(4, "little") == k.to_bytes(4, "little")
        assert sys.getsizeof(x) == sys.getsizeof(plain)
        assert pickle.loads(pickle.dumps(x)) == k
        assert bool(x) == bool(k)
    ids = qwen_enc_raw.encode_ordinary("The quick brown fox 跳过了 ленивую собаку")
    assert json.loads(json.dumps(ids)) == ids
    assert np.array(ids, dtype=np.int64).tolist() == ids
    assert sorted(ids) == sorted(int(str(i)) for i in ids)
    assert qwen_enc_raw.decode(ids) == "The quick brown fox 跳过了 ленивую собаку"


def test_lists_come_and_go_under_the_debug_allocator():
    # -X dev installs CPython's debug hooks on every allocator: freeing
    # memory that is not the allocator's, or a count that reaches zero,
    # would abort the child.
    script = textwrap.dedent("""
        import gc, qtok
        enc = qtok.get_encoding("qwen")
        text = "Hello, world! Привет, мир. 你好，世界。" * 200
        expected = enc.encode(text)
        for _ in range(50):
            ids = enc.encode(text)
            batch = enc.encode_batch([text, text[:50]], num_threads=2)
            assert ids == expected and batch[0] == expected
            del ids, batch
            gc.collect()
        assert enc.decode(expected) == text
        print("ok", len(expected))
    """)
    out = subprocess.run([sys.executable, "-X", "dev", "-c", script], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ")


def test_a_second_vocabulary_shares_the_objects(qwen_enc_raw):
    # Ids are ids whatever the vocabulary: another encoding's lists hold the
    # same objects (the block only grows).
    other = qtok.Encoding(name="tiny", pat_str=qtok.QWEN_PATTERN,
                          mergeable_ranks={bytes([b]): b for b in range(256)}, special_tokens={})
    ids = other.encode_ordinary("abc")
    assert ids == [97, 98, 99]
    assert all(x is _bpe._shared_ints()[x] for x in ids)
