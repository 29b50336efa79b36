#!/usr/bin/env python
"""First passes over the corpus, for an A/B of builds: alternating, pinned runs.

    python bench/first_pass.py [--passes 10] [--rounds 5] [--cpu 1 | --unpinned] [BUILD ...]

A first pass is the corpus encoded by caches that have never seen it: what a
corpus reader meets.  A fresh process gives one first pass, and one pass is too
short to time on a shared machine, so each run here is a fresh process that
encodes every corpus file (NFC, ``encode_ordinary``) PASSES times, emptying its
piece caches before each pass (``qtok._bpe._forget_piece_caches``: the caches
are unmapped, so the next pass maps fresh memory, as a new process does) and
giving it new str objects of the files (CPython has not made their UTF-8), and
reports MB/s over all passes.  Then one warm pass (best of three) for
comparison.

Each BUILD is a folder holding a built ``qtok`` package (a source tree after
``python setup.py build_ext --inplace``, or a worktree of another commit);
without one, the installed qtok is measured.  Runs alternate A, B, A, B, ...
pinned to one CPU (``--unpinned``: free to use every CPU, so that texts long
enough to be split run on threads), so a change in the machine's load hits every
build alike,
and the table gives each build's range and median, and the ratio of medians to
the first build's.  The ids of every build are checked equal to the first
build's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHILD = r"""
import hashlib, json, sys, time, unicodedata
paths, passes = sys.argv[1].split("\n"), int(sys.argv[2])
texts = [unicodedata.normalize("NFC", open(p, encoding="utf-8").read()) for p in paths]
n = sum(len(t.encode()) for t in texts)
import qtok
from qtok._bpe import _forget_piece_caches
enc = qtok.get_encoding("qwen", normalization=None)
enc.encode_ordinary("hello world")
core = enc._core
digest = hashlib.sha256()
spent = 0.0
kept = []
for k in range(passes):
    _forget_piece_caches(core)
    # New str objects each pass, as a corpus reader meets them: CPython has
    # not made their UTF-8, and qtok has not met them.  The last pass's are
    # kept alive: a new str of the same characters at a freed one's address
    # would pass for it, met again.
    fresh = [t[:1] + t[1:] for t in texts]
    kept.append(fresh)
    t0 = time.perf_counter()
    results = [enc.encode_ordinary(t) for t in fresh]
    spent += time.perf_counter() - t0
    if k == 0:
        for ids in results:
            digest.update(str(ids).encode())
    del results
warm = []
for _ in range(3):
    t0 = time.perf_counter()
    for t in texts:
        enc.encode_ordinary(t)
    warm.append(time.perf_counter() - t0)
print(json.dumps({"first": n * passes / spent / 1e6, "warm": n / min(warm) / 1e6,
                  "file": qtok.__file__, "digest": digest.hexdigest()}))
"""


def run(build: str | None, paths: list[Path], passes: int, cpu: int | None) -> dict:
    env = dict(os.environ)
    if build:
        env["PYTHONPATH"] = os.path.abspath(build)
        # Each build its own table cache: a compiled-table file is bound to the
        # build that wrote it, so sharing one would rebuild it on every run.
        env["QTOK_CACHE_DIR"] = os.path.join(tempfile.gettempdir(), "qtok-first-pass",
                                             Path(build).resolve().name)

    def pin():
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    done = subprocess.run([sys.executable, "-c", CHILD, "\n".join(map(str, paths)), str(passes)],
                          capture_output=True, text=True, env=env, check=False,
                          cwd=tempfile.gettempdir(), preexec_fn=pin)
    if done.returncode != 0:
        sys.exit(f"first_pass.py: the run of {build or 'the installed qtok'} failed:\n{done.stderr}")
    result = json.loads(done.stdout)
    if build and not result["file"].startswith(os.path.abspath(build)):
        sys.exit(f"first_pass.py: {build} holds no built qtok (imported {result['file']})")
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("builds", nargs="*", help="folders holding a built qtok (default: the installed one)")
    ap.add_argument("--passes", type=int, default=10, help="first passes per run (default 10)")
    ap.add_argument("--rounds", type=int, default=5, help="runs of each build, alternating (default 5)")
    ap.add_argument("--cpu", type=int, default=None,
                    help="the CPU to pin every run to (default: the last one this process may use)")
    ap.add_argument("--unpinned", action="store_true",
                    help="let every run use every CPU this process may use")
    args = ap.parse_args(argv)
    if args.passes < 1 or args.rounds < 1:
        ap.error("--passes and --rounds must be at least 1")
    cpus = sorted(os.sched_getaffinity(0))
    if args.unpinned and args.cpu is not None:
        ap.error("--cpu and --unpinned exclude each other")
    cpu = None if args.unpinned else args.cpu if args.cpu is not None else cpus[-1]
    if cpu is not None and cpu not in cpus:
        ap.error(f"--cpu {cpu}: this process may use CPUs {cpus}")
    from references import corpus_dir
    folder = corpus_dir()
    paths = sorted(folder.glob("*.txt")) if folder else []
    if not paths:
        print("first_pass.py: no corpus found ($QTOK_BENCH_CORPUS, $QTOK_TEST_CORPORA/leipzig "
              "or corpora/)", file=sys.stderr)
        return 2
    builds = args.builds or [None]
    results: dict[str | None, list[dict]] = {b: [] for b in builds}
    for r in range(args.rounds):
        for b in builds:
            res = run(b, paths, args.passes, cpu)
            results[b].append(res)
            print(f"round {r + 1}: {b or 'installed'}: first pass {res['first']:.1f} MB/s, "
                  f"warm {res['warm']:.1f} MB/s", file=sys.stderr)
    digests = {res["digest"] for rs in results.values() for res in rs}
    if len(digests) != 1:
        print("first_pass.py: the builds' ids differ", file=sys.stderr)
        return 1
    base_first = statistics.median(r["first"] for r in results[builds[0]])
    base_warm = statistics.median(r["warm"] for r in results[builds[0]])
    print(f"| build | first pass MB/s | median | / first build | warm MB/s | median | / first build |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for b, rs in results.items():
        first = [r["first"] for r in rs]
        warm = [r["warm"] for r in rs]
        print(f"| {b or 'installed'} | {min(first):.1f}-{max(first):.1f} | {statistics.median(first):.1f} "
              f"| {statistics.median(first) / base_first:.3f} | {min(warm):.1f}-{max(warm):.1f} "
              f"| {statistics.median(warm):.1f} | {statistics.median(warm) / base_warm:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
