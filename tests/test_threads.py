"""One Encoding shared by many threads gives the same ids as one thread.

qtok releases the GIL while encoding, so Python threads really run the
native code at the same time; the batch calls also start native threads of
their own, and the core keeps per-call piece caches in a shared pool.
Whatever runs at once, the ids must be those of a single thread.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import qtok
from corpus_files import synthetic_texts
from qwen_reference import nfc

N_THREADS = 8


@pytest.fixture(scope="module")
def per_thread_texts() -> list[list[str]]:
    """Different texts for every thread, some long enough to hold the GIL-free section a while."""
    return [synthetic_texts(30, seed=100 + k, max_phrases=200) for k in range(N_THREADS)]


def run_together(work, n: int) -> list:
    """Call work(k) for k in range(n) on n threads released at the same moment."""
    barrier = threading.Barrier(n)

    def start(k):
        barrier.wait()
        return work(k)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(start, range(n)))


def test_threads_encode_concurrently(qwen_enc, per_thread_texts):
    def encode_all(k):
        return [qwen_enc.encode(t, allowed_special="all") for t in per_thread_texts[k]]

    expected = [encode_all(k) for k in range(N_THREADS)]
    for _ in range(3):
        got = run_together(encode_all, N_THREADS)
        assert got == expected


def test_threads_mix_entry_points(qwen_enc, qwen_enc_raw, per_thread_texts):
    # Different calls on the same tables at once: encode, count, numpy,
    # batches (which start native threads of their own) and decode.
    texts = per_thread_texts[0]
    plain = dict(disallowed_special=())      # special tokens as text, like encode_ordinary
    ids = [qwen_enc.encode_ordinary(t) for t in texts]
    calls = [
        lambda: [qwen_enc.encode(t, **plain) for t in texts],
        lambda: [qwen_enc.encode_to_numpy(t, **plain).tolist() for t in texts],
        lambda: qwen_enc.encode_batch(texts, num_threads=4, **plain),
        lambda: qwen_enc.encode_ordinary_batch(texts * 4, num_threads=4)[:len(texts)],
        lambda: [list(range(qwen_enc.count(t, **plain))) for t in texts],
        lambda: [qwen_enc.encode_ordinary(qwen_enc.decode(i)) for i in ids],
        lambda: [qwen_enc_raw.encode_ordinary(t) for t in qwen_enc.decode_batch(ids)],
        lambda: [qwen_enc.encode_ordinary(t) for t in texts],
    ]
    expected = [ids] * 4 + [[list(range(len(i))) for i in ids]] + [ids] * 3
    for _ in range(3):
        assert run_together(lambda k: calls[k](), len(calls)) == expected


@pytest.mark.parametrize("num_threads", [2, 8, 64])
def test_native_batch_threads(qwen_enc, per_thread_texts, num_threads):
    texts = [t for group in per_thread_texts for t in group]
    assert sum(len(t.encode()) for t in texts) > 65536, "too small to use native threads"
    single = [qwen_enc.encode_ordinary(t) for t in texts]
    assert qwen_enc.encode_ordinary_batch(texts, num_threads=num_threads) == single
    assert qwen_enc.count_batch(texts, num_threads=num_threads, disallowed_special=()) == [len(i) for i in single]


@pytest.mark.parametrize("num_threads", [2, 3, 4, 7])
@pytest.mark.parametrize("long_at", ["start", "end"])
def test_batch_runs_taken_over(qwen_enc, per_thread_texts, num_threads, long_at):
    # Each thread owns a run of adjacent texts; here one run holds texts ten
    # times longer than all the others, so the threads whose runs are done
    # take texts from the back of it (and, in list mode, the calling thread
    # builds each run's lists while they come in).  Every text's ids must
    # still be its own, in order, whichever thread encoded it.
    short = [t for group in per_thread_texts for t in group][:8 * num_threads]
    long = [t * 10 for t in short[:len(short) // num_threads]]
    texts = long + short if long_at == "start" else short + long
    assert sum(len(t.encode()) for t in texts) > 65536, "too small to use native threads"
    single = [qwen_enc.encode_ordinary(t) for t in texts]
    for _ in range(2):          # the second call meets caches that saw these texts
        assert qwen_enc.encode_ordinary_batch(texts, num_threads=num_threads) == single
        assert qwen_enc.count_batch(texts, num_threads=num_threads,
                                    disallowed_special=()) == [len(i) for i in single]


FIRST_USE = """
import sys, threading
import qtok
barrier = threading.Barrier(8)
found = [None] * 8
def first_use(k):
    barrier.wait()
    enc = qtok.get_encoding("qwen2" if k % 2 else "qwen")
    found[k] = (id(enc), enc.encode("hello world"))
threads = [threading.Thread(target=first_use, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
# One Encoding per name asked for ("qwen" is an alias of "qwen2", with its own name).
assert len({f[0] for f in found[0::2]}) == 1 and len({f[0] for f in found[1::2]}) == 1, \
    "threads got different Encoding objects"
assert qtok.get_encoding("qwen")._core is qtok.get_encoding("qwen2")._core, "two tables"
assert all(f[1] == [14990, 1879] for f in found), found
print("ok")
"""


def test_first_use_from_many_threads(tmp_path):
    # In a fresh interpreter (this one has loaded the vocabulary already),
    # with an empty table cache: 8 threads race to load it and must all get
    # the same working Encoding.
    env = dict(os.environ, QTOK_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(Path(qtok.__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-c", FIRST_USE], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_new_thread_caches_start_as_copies(qwen_ranks, tiktoken_ref, per_thread_texts):
    # A fresh Encoding has a fresh cache pool.  Warm the calling thread's
    # cache, then make new threads take new caches (copies of the warm one)
    # -- native batch threads and Python threads -- and check every result.
    enc = qtok.Encoding("fresh-pool", pat_str=qtok.QWEN_PATTERN, mergeable_ranks=qwen_ranks,
                        special_tokens=qtok.QWEN_SPECIAL_TOKENS, normalization=None)
    texts = [t for group in per_thread_texts for t in group]
    want = [tiktoken_ref.encode_ordinary(t) for t in texts]
    assert [enc.encode_ordinary(t) for t in texts[:40]] == want[:40]        # warms one cache
    assert enc.encode_ordinary_batch(texts, num_threads=4) == want          # three new ones, copied
    got = run_together(lambda k: [enc.encode_ordinary(t) for t in per_thread_texts[k]], N_THREADS)
    assert [ids for group in got for ids in group] == want


@pytest.mark.parametrize("num_threads", [1, 2])
def test_batches_normalize_on_their_threads(qwen_enc, tiktoken_ref, per_thread_texts, num_threads):
    # encode_ordinary_batch and count_batch leave the NFC check to the
    # native threads, and normalize the texts it does not pass afterwards:
    # texts that are not NFC, among many that are, must come out as the NFC
    # text does.
    not_nfc = ["cafe\u0301 au lait", "\u1100\u1161\u11a8 jamo", "A\u030a ring", "\u0928\u093c nukta",
               "a\u0302\u0323 marks out of order"]
    texts = [t for group in per_thread_texts for t in group]
    texts = [not_nfc[i % len(not_nfc)] + " " + t if i % 7 == 3 else t for i, t in enumerate(texts)]
    assert sum(len(t.encode()) for t in texts) > 32768          # enough for the threads to start
    want = [tiktoken_ref.encode_ordinary(nfc(t)) for t in texts]
    assert qwen_enc.encode_ordinary_batch(texts, num_threads=num_threads) == want
    assert qwen_enc.count_batch(texts, num_threads=num_threads, disallowed_special=()) == [len(ids) for ids in want]


@pytest.mark.parametrize("num_threads", [1, 2])
def test_batch_texts_of_one_id_per_byte(qwen_enc_raw, num_threads):
    # A batch's threads write their texts' ids into a scratch vector sized for
    # one id per byte, the most a text can have, and kept between batches up
    # to 4,194,304 ids; a text whose worst case no longer fits gets a vector
    # of its own.  Digits and spaces are one id per byte.  Batches of such
    # texts: one that fits, then one past the limit (on one thread, its last
    # texts take vectors of their own), then the first again, reusing the
    # vectors the earlier batches left; every text as encoded alone.
    import random
    rng = random.Random(num_threads)

    def one_id_per_byte(n: int) -> str:     # digits, some followed by one space
        return "".join(rng.choice(("0", "7", "9 ", "3 ")) for _ in range(n))

    small = [one_id_per_byte(rng.randrange(1, 30_000)) for _ in range(20)]
    big = [one_id_per_byte(40_000) for _ in range(80)]
    assert sum(map(len, big)) > 4_194_304
    for texts in (small, big, small):
        single = [qwen_enc_raw.encode_ordinary(t) for t in texts]
        assert all(len(ids) == len(t) for ids, t in zip(single, texts))
        assert qwen_enc_raw.encode_ordinary_batch(texts, num_threads=num_threads) == single
        assert qwen_enc_raw.count_batch(texts, num_threads=num_threads) == [len(t) for t in texts]


def new_str(text: str) -> str:
    """An equal str that is a new object: CPython has not yet made its UTF-8
    (it keeps that in the str once asked), as in a batch a pipeline hands over."""
    return (text + "x")[:-1]


# Texts of each of CPython's str layouts: ASCII, Latin-1, two bytes a
# character, four.
LAYOUTS = ["plain ascii words, 42 of them", "café crème brûlée à la carte",
           "Привет, мир! Ελληνικά και 中文 テキスト 한국어", "emoji 😀👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 with ß"]


@pytest.mark.parametrize("num_threads", [1, 2, 3, 8])
def test_batch_of_new_str_objects(qwen_enc, per_thread_texts, num_threads):
    # A batch gets the UTF-8 of texts that are not ASCII while its threads
    # already encode (each text's, before a thread may take it), and takes
    # that of ASCII texts from the str itself.  New str objects of every
    # layout, then the same objects again (their UTF-8 made by now), give
    # the ids of each text encoded alone.
    texts = [t for group in per_thread_texts for t in group]
    texts = [LAYOUTS[i % 4] * (1 + i % 5) + " " + t if i % 3 else t for i, t in enumerate(texts)]
    assert sum(len(t.encode()) for t in texts) > 65536, "too small to use native threads"
    single = [qwen_enc.encode_ordinary(t) for t in texts]
    assert qwen_enc.encode_ordinary_batch([new_str(t) for t in texts], num_threads=num_threads) == single
    assert qwen_enc.count_batch([new_str(t) for t in texts], num_threads=num_threads,
                                disallowed_special=()) == [len(ids) for ids in single]
    again = [new_str(t) for t in texts]
    for _ in range(2):
        assert qwen_enc.encode_ordinary_batch(again, num_threads=num_threads) == single


@pytest.mark.parametrize("num_threads", [2, 4])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_batch_lone_surrogate_while_threads_run(qwen_enc, tiktoken_ref, per_thread_texts,
                                                num_threads, where):
    # A lone surrogate has no UTF-8: the calling thread finds it while the
    # batch's threads are encoding the texts before it, stops them, and the
    # batch is encoded again with the surrogate replaced (as tiktoken does).
    # Wherever it falls -- the first text, one in the middle of a thread's
    # run, the last -- every text's ids are those of the text alone.
    texts = [LAYOUTS[2] + " " + t for group in per_thread_texts for t in group]
    at = {"first": 0, "middle": len(texts) // 2 + 1, "last": len(texts) - 1}[where]
    texts[at] = texts[at][:9] + "\ud800" + texts[at][9:]
    assert sum(len(t.encode("utf-8", "replace")) for t in texts) > 65536, "too small for threads"
    replaced = [t.encode("utf-16", "surrogatepass").decode("utf-16", "replace") for t in texts]
    want = [tiktoken_ref.encode_ordinary(nfc(t)) for t in replaced]
    assert want[at] == qwen_enc.encode_ordinary(texts[at])
    assert qwen_enc.encode_ordinary_batch([new_str(t) for t in texts], num_threads=num_threads) == want
    assert qwen_enc.count_batch([new_str(t) for t in texts], num_threads=num_threads,
                                disallowed_special=()) == [len(ids) for ids in want]


def test_python_threads_split_long_texts_and_run_batches_at_once(qwen_enc_raw, per_thread_texts,
                                                                 threads):
    # Eight Python threads at once, each a call that starts native threads
    # of its own: long texts split into parts (lists, counts, arrays) and
    # batches of new str objects, one of them with a lone surrogate.  That
    # is more threads than the pool has piece caches, so some work
    # uncached.  Every call must give what it gives alone.
    unit = "\n".join(t for group in per_thread_texts for t in group)
    longs = [unit[k * 997:] + unit[:k * 997] for k in range(3)]
    assert all(len(t.encode()) > 4 * qtok._bpe.long_text_min_bytes for t in longs)
    docs = [t for group in per_thread_texts for t in group]
    bad = list(docs)
    bad[len(bad) // 2] += " \ud800 after"
    threads(1)
    want_long = [qwen_enc_raw.encode_ordinary(t) for t in longs]
    want_docs = [qwen_enc_raw.encode_ordinary(t) for t in docs]
    want_bad = qwen_enc_raw.encode_ordinary_batch(bad, num_threads=1)
    threads(3)
    plain = dict(disallowed_special=())
    calls = [
        lambda k: qwen_enc_raw.encode_ordinary(longs[k % 3]) == want_long[k % 3],
        lambda k: qwen_enc_raw.count(longs[k % 3], **plain) == len(want_long[k % 3]),
        lambda k: qwen_enc_raw.encode_to_numpy(longs[k % 3], **plain).tolist()
        == want_long[k % 3],
        lambda k: qwen_enc_raw.encode_ordinary_batch([new_str(t) for t in docs],
                                                     num_threads=3) == want_docs,
        lambda k: qwen_enc_raw.encode_ordinary_batch([new_str(t) for t in bad],
                                                     num_threads=2) == want_bad,
        lambda k: qwen_enc_raw.count_batch([new_str(t) for t in docs], num_threads=4,
                                           **plain) == [len(ids) for ids in want_docs],
    ]
    for shift in range(len(calls)):
        picks = [(k + shift) % len(calls) for k in range(8)]
        assert run_together(lambda k: calls[picks[k]](k), 8) == [True] * 8, picks


# -- where a native thread starts (qtok/include/qtok/threads.h) ------------------

needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or sys.platform != "linux",
                                    reason="CPU affinity is Linux's")


@needs_affinity
def test_a_thread_starts_away_from_its_creator_and_gets_every_cpu_back():
    from qtok import _bpe
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("this process may use one CPU only")
    for _ in range(5):
        creator_cpu, first_cpu, thread_allowed = _bpe._thread_start()
        assert creator_cpu in allowed
        assert first_cpu in allowed and first_cpu != creator_cpu
        assert thread_allowed == allowed          # given back before its work began


@needs_affinity
def test_on_one_cpu_threads_start_there_and_encode(qwen_enc_raw, tiktoken_ref, per_thread_texts,
                                                   threads):
    # Nowhere else to start: the thread is created as pthread_create does,
    # and batches and long texts still run (two threads on one CPU).
    from qtok import _bpe
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        assert _bpe._thread_start() == (-1, -1, {cpu})     # started as pthread_create does
        texts = [t for group in per_thread_texts for t in group]
        want = [tiktoken_ref.encode_ordinary(t) for t in texts]
        assert qwen_enc_raw.encode_ordinary_batch(texts, num_threads=2) == want
        long_text = "\n".join(texts)
        assert len(long_text.encode()) > _bpe.long_text_min_bytes      # split into parts
        threads(2)
        assert qwen_enc_raw.encode_ordinary(long_text) == tiktoken_ref.encode_ordinary(long_text)
    finally:
        os.sched_setaffinity(0, allowed)
