#!/usr/bin/env python
"""One long text on 1 and on 2 native threads: ``encode_ordinary(big_text)``.

    python bench/long_text.py [--runs 3] [--sizes 1,10] [--call encode_ordinary|count|encode_to_numpy] [--nfc] [--distinct]

Each measurement is a fresh process (so the first call meets caches that
have not seen the text; a warm-up on other text maps them) that encodes one
text of SIZE MB, made of the benchmark corpus's files (NFC), joined and
repeated to the size: the first call ("first pass"), then the best of more
calls ("warm": three, or as many as make 30 MB of text, so that a 1 MB call
of 3 ms gets thirty), each result let go after the clock stops, as compare.py's
rounds do; and the best of as many with the result let go inside the timing
("warm, freed": CPython frees a list of ids one reference at a time, on the
calling thread, about 4 ms for a 10 MB text); then the median of nine calls
each made after the process has slept 50 ms ("warm, after a pause": a
program that tokenizes between reads or requests, whose CPUs are idle when
a call starts its threads); then, where the corpus holds
it unrepeated, the text of the same size that follows in the corpus ("next
text, first call": new words, met by caches that have worked before, as a
corpus reader meets each new document).  Runs alternate 1 thread, 2
threads, ..., so that a change in the machine's load hits both alike; the
table gives the range of each over the runs and the ratio of the medians.
The ids of both are checked to be equal to tiktoken's.

A text longer than the corpus repeats it, so each thread's stretch holds
the words the other's holds: two threads each merge them, where one thread
merges them once and meets them warm after.  With --distinct the corpus is
followed by two stretches that share few words with it or with each
other: the corpus with its characters in reverse order, then the corpus
with each run of letters rotated by one (its first letter moved to its
end), each put in NFC again.  Both keep the corpus's scripts and the
lengths of its words; neither is language, and more of their pieces need
merging than of the corpus's (bench/RESULTS.md).  The 10 MB text is then
one that does not repeat itself, like most long documents.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHILD = r"""
import json, sys, time, hashlib, statistics
sys.path.insert(0, {bench!r})
import qtok
from long_text import corpus_bytes, long_text
threads, size, call, nfc = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "nfc"
distinct = sys.argv[5] == "distinct"
qtok.set_num_threads(threads)
enc = qtok.get_encoding("qwen") if nfc else qtok.get_encoding("qwen", normalization=None)
fn = {{"encode_ordinary": enc.encode_ordinary, "count": enc.count,
      "encode_to_numpy": lambda t: enc.encode_to_numpy(t, disallowed_special=())}}[call]
# Warm-up on other text, long enough to be split, with the call measured:
# every thread's piece cache is mapped and written to, and numpy imported,
# before the timing, as in a process that has encoded before.  The text is
# words of rare letters, which the corpus does not hold: digits and single
# bytes never reach the short cache, so a warm-up of numbers left its 16 MB
# to be faulted in by the first call measured.
fn(" ".join("".join("qxzjvkw"[(i * 7919 + k * 104729) % 7] for k in range(3 + i % 5))
            for i in range(60000)))
text = long_text(size, distinct=distinct)
n_bytes = len(text.encode())
t0 = time.perf_counter(); ids = fn(text); first = time.perf_counter() - t0
# The time of a call: a result is let go after the clock stops (as
# compare.py's rounds do), and also with the clock running ("warm, freed"):
# CPython frees a list one reference at a time, on the calling thread.
warm, freed = [], []
rounds = max(3, round(30e6 / max(1, n_bytes)))   # about 30 MB of text: a 1 MB call is 3 ms
for _ in range(rounds):
    t0 = time.perf_counter(); out = fn(text); warm.append(time.perf_counter() - t0)
    del out
for _ in range(rounds):
    t0 = time.perf_counter(); fn(text); freed.append(time.perf_counter() - t0)
# Calls after a pause, as in a program that tokenizes between reads or
# requests: the threads of each call start while the CPUs are idle.  The
# median, since the row is about how often they start late, not the best case.
paused = []
for _ in range(9):
    time.sleep(0.05)
    t0 = time.perf_counter(); out = fn(text); paused.append(time.perf_counter() - t0)
    del out
# Then the text that follows it in the corpus, new to the caches, when the
# corpus holds it unrepeated: what a process meets at each new document.
following = None                 # MB/s of its first call
if 2 * size <= len(corpus_bytes(distinct)):
    after = long_text(size, offset=size, distinct=distinct)
    t0 = time.perf_counter(); out = fn(after); seconds = time.perf_counter() - t0
    following = len(after.encode()) / seconds / 1e6
    del out
# The ids' digest (count: the number of ids) is checked against tiktoken's.
seen = ids if call == "count" else [int(i) for i in ids]
print(json.dumps({{"first": n_bytes / first / 1e6, "warm": n_bytes / min(warm) / 1e6,
                  "warm, freed": n_bytes / min(freed) / 1e6,
                  "warm, after a pause": n_bytes / statistics.median(paused) / 1e6, "bytes": n_bytes,
                  "next text, first call": following,
                  "digest": hashlib.sha256(str(seen).encode()).hexdigest()}}))
"""


def child(threads: int, size: int, call: str, nfc: bool = False, distinct: bool = False) -> dict:
    code = CHILD.format(bench=str(Path(__file__).resolve().parent))
    done = subprocess.run([sys.executable, "-c", code, str(threads), str(size), call,
                           "nfc" if nfc else "none", "distinct" if distinct else "repeated"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the child failed:\n{done.stderr}")
    return json.loads(done.stdout)


@functools.lru_cache(maxsize=2)
def corpus_bytes(distinct: bool = False) -> bytes:
    """The corpus's files (NFC), joined, as UTF-8 (read once per process);
    with distinct, followed by its two stretches that share few words with
    it (the module's docstring)."""
    from references import load_corpus
    corpus = "\n".join(unicodedata.normalize("NFC", t) for t in load_corpus().values())
    if not distinct:
        return corpus.encode()
    rotated = re.sub(r"[^\W\d_]{2,}", lambda word: word[0][1:] + word[0][0], corpus)
    # Both in NFC again (a mark moved away from its letter may compose with
    # another), as the corpus is: the default encoding then checks them and
    # does not normalize them on every call.
    return "\n".join([corpus, nfc_by_line(corpus[::-1]), nfc_by_line(rotated)]).encode()


def nfc_by_line(text: str) -> str:
    """text in NFC, a line at a time: the same as the whole at once (a line
    break neither composes nor reorders with its neighbours), without the
    growing buffer CPython's normalizer copies at every few characters it
    adds, which a sanitizer's allocator cannot grow in place."""
    return "\n".join(unicodedata.normalize("NFC", line) for line in text.split("\n"))


def long_text(size: int, offset: int = 0, distinct: bool = False) -> str:
    """SIZE bytes of the corpus's files (NFC), joined and repeated (or with
    distinct, of the corpus and its two other stretches), from byte OFFSET
    on, cut at characters' ends: the text both the children and the
    reference encode (offset 0), or the next text of a size (offset size)."""
    unit = corpus_bytes(distinct)
    data = unit * ((offset + size) // len(unit) + 1)
    return data[offset:offset + size].decode("utf-8", "ignore")


def reference_digest(size: int, call: str, nfc: bool = False, distinct: bool = False) -> str:
    import hashlib
    from references import tiktoken_reference
    text = long_text(size, distinct=distinct)
    if nfc:
        from qtok.normalize import to_nfc   # Qwen's NFC (Hugging Face's tables), then tiktoken
        text = to_nfc(text)
    ids = tiktoken_reference().encode_ordinary(text)
    return hashlib.sha256(str(len(ids) if call == "count" else ids).encode()).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="1,10", help="text sizes in MB, comma-separated")
    ap.add_argument("--call", default="encode_ordinary",
                    choices=["encode_ordinary", "count", "encode_to_numpy"])
    ap.add_argument("--nfc", action="store_true",
                    help="the default encoding, which normalizes (NFC) first: its threads "
                         "check the text while they encode it")
    ap.add_argument("--distinct", action="store_true",
                    help="beyond the corpus's length, stretches that share few words with it "
                         "(the corpus reversed, then its words rotated) instead of the corpus again")
    args = ap.parse_args(argv)
    sizes = [int(float(s) * 1_000_000) for s in args.sizes.split(",")]
    if not corpus_bytes():
        sys.exit("long_text.py: no corpus to make the text of (QTOK_BENCH_CORPUS names a "
                 "folder without *.txt files)")
    print(f"cores available: {len(os.sched_getaffinity(0))}; runs: {args.runs}, alternating; "
          f"call: {args.call}{', NFC' if args.nfc else ''}"
          f"{'; text: distinct stretches' if args.distinct else ''}")
    print("| text | mode | 1 thread MB/s | 2 threads MB/s | 2 / 1 (medians) |")
    print("|---|---|---:|---:|---:|")
    for size in sizes:
        results: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(args.runs):
            for threads in (1, 2):
                results[threads].append(child(threads, size, args.call, args.nfc, args.distinct))
        expected = reference_digest(size, args.call, args.nfc, args.distinct)
        digests = {r["digest"] for rs in results.values() for r in rs}
        assert digests == {expected}, "the ids differ from tiktoken's"
        for mode in ("first", "warm", "warm, freed", "warm, after a pause", "next text, first call"):
            one = [r[mode] for r in results[1]]
            two = [r[mode] for r in results[2]]
            if None in one + two:
                continue                    # the corpus does not hold a second such text
            print(f"| {size / 1e6:g} MB | {mode} | {min(one):.1f}-{max(one):.1f} | "
                  f"{min(two):.1f}-{max(two):.1f} | "
                  f"{statistics.median(two) / statistics.median(one):.2f} |")
    print("\nids equal to tiktoken's on every run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
