"""Instructions per byte of qtok (and tiktoken), counted by callgrind.

A timing on a shared machine moves with whatever else runs on it; an
instruction count does not.  This script runs one fixed job under
``valgrind --tool=callgrind`` three times and takes differences, so the cost
of starting Python and loading the vocabulary drops out:

    load    the encoder is built and encodes one short line
    cold    ... then encodes every corpus file once (a fresh encoder:
            the piece caches meet every piece for the first time)
    second  ... then encodes every file a second time (caches warm)
    warm    ... then a third time

    cold instructions / byte   = (cold - load) / corpus bytes
    second instructions / byte = (second - cold) / corpus bytes
    warm instructions / byte   = (warm - second) / corpus bytes

The second pass and the third differ for qtok: a long new str that is not
ASCII has its UTF-8 written by qtok on the first pass, and the same str met
again takes the UTF-8 CPython makes and keeps in it, on the second
(``docs/design.md``, "Where the time goes").  The third pass is the
steady state, which the timed benchmarks' best-of rounds measure.

Usage (from the project root, after the test install; needs Debian's
``valgrind``):

    python bench/instructions.py [--encoder qtok|tiktoken] [--corpus DIR]
                                 [--python PATH] [--json FILE]

The corpus is the folder named by --corpus or ``QTOK_BENCH_CORPUS``, else the
Leipzig sentences of the test corpora (``$QTOK_TEST_CORPORA/leipzig``), else the
bundled ``corpora/``.
Every file is NFC-normalized before the count, and qtok runs with
``normalization=None`` on one thread (``QTOK_NUM_THREADS=1``), so both
encoders do the same work on one core.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The job that runs under callgrind.  argv: encoder, stage, corpus file list.
JOB = r"""
import sys
encoder, stage, listing = sys.argv[1], sys.argv[2], sys.argv[3]
texts = [open(p, encoding="utf-8").read() for p in open(listing, encoding="utf-8").read().split("\n") if p]
if encoder == "qtok":
    import qtok
    enc = qtok.get_encoding("qwen", normalization=None)
    encode = enc.encode_ordinary
else:
    import os, tiktoken, tiktoken.load, qtok
    path = os.path.join(os.path.dirname(qtok.__file__), "qwen.tiktoken")
    enc = tiktoken.Encoding("qwen", pat_str=qtok.QWEN_PATTERN,
                            mergeable_ranks=tiktoken.load.load_tiktoken_bpe(path),
                            special_tokens=qtok.QWEN_SPECIAL_TOKENS)
    encode = enc.encode_ordinary
encode("hello world")
for _ in range({"load": 0, "cold": 1, "second": 2, "warm": 3}[stage]):
    for t in texts:
        encode(t)
"""


def default_corpus() -> Path:
    env = os.environ.get("QTOK_BENCH_CORPUS")
    if env:
        return Path(env)
    shared = Path(os.environ.get("QTOK_TEST_CORPORA") or ROOT.parent / "shared" / "corpora") / "leipzig"
    return shared if shared.is_dir() else ROOT / "corpora"


def job_env(workdir: str) -> dict:
    # A table cache of the run's own, filled before the first count, so that
    # every stage loads the vocabulary the same way.  One thread: texts of
    # 64 KiB or more would otherwise be split over the cores, and each
    # thread's cache would merge the pieces it shares with the others again,
    # so the count would depend on the machine's cores (on 2: 136 instead of
    # 126 instructions a byte cold).
    return {**os.environ, "PYTHONHASHSEED": "0", "QTOK_CACHE_DIR": os.path.join(workdir, "cache"),
            "QTOK_NUM_THREADS": "1"}


def count(python: str, encoder: str, stage: str, listing: str, workdir: str) -> int:
    out = os.path.join(workdir, f"callgrind.{encoder}.{stage}")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    python, "-c", JOB, encoder, stage, listing],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=job_env(workdir))
    with open(out, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s*(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError(f"no instruction total in {out}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoder", choices=["qtok", "tiktoken"], action="append")
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--python", default=sys.executable,
                    help="the Python whose installed qtok is counted (default: this one)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions.py: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    corpus = args.corpus or default_corpus()
    files = sorted(corpus.glob("*.txt"))
    if not files:
        print(f"instructions.py: no *.txt files in {corpus}", file=sys.stderr)
        return 2
    results = {}
    with tempfile.TemporaryDirectory(prefix="qtok-callgrind-") as work:
        nfc_paths = []
        total = 0
        for p in files:
            text = unicodedata.normalize("NFC", p.read_text(encoding="utf-8"))
            total += len(text.encode("utf-8"))
            q = os.path.join(work, p.name)
            with open(q, "w", encoding="utf-8") as f:
                f.write(text)
            nfc_paths.append(q)
        listing = os.path.join(work, "files.txt")
        with open(listing, "w", encoding="utf-8") as f:
            f.write("\n".join(nfc_paths))
        for encoder in args.encoder or ["qtok"]:
            subprocess.run([args.python, "-c", JOB, encoder, "load", listing], check=True,
                           env=job_env(work))
            load = count(args.python, encoder, "load", listing, work)
            cold = count(args.python, encoder, "cold", listing, work)
            second = count(args.python, encoder, "second", listing, work)
            warm = count(args.python, encoder, "warm", listing, work)
            results[encoder] = {
                "bytes": total, "files": len(files),
                "cold_instructions_per_byte": (cold - load) / total,
                "second_pass_instructions_per_byte": (second - cold) / total,
                "warm_instructions_per_byte": (warm - second) / total,
                "totals": {"load": load, "cold": cold, "second": second, "warm": warm},
            }
            r = results[encoder]
            print(f"{encoder:9s} {len(files)} files, {total:,} bytes: "
                  f"cold {r['cold_instructions_per_byte']:.2f} instructions/byte, "
                  f"second pass {r['second_pass_instructions_per_byte']:.2f}, "
                  f"warm {r['warm_instructions_per_byte']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
