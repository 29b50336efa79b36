"""Column -> ids as Arrow: qtok's Arrow path against the list route and the references.

The job: a Parquet file's text column in, a pyarrow ``list<uint32>`` array
of the ids of every row out (what a ``datasets`` or Ray Data pipeline does).
Routes, each in its own process (so peak memory is its own) on the same
file, timed as the best of --repeat runs after one warm-up pass:

  qtok arrow     enc.encode_ordinary_arrow(column)
  qtok list      column.to_pylist() -> enc.encode_ordinary_batch -> pa.array
  tiktoken list  the same with tiktoken (same vocabulary and pattern, NFC first)
  HF list        the same with tokenizers' encode_batch (Qwen2 tokenizer.json)

on 1 and 2 threads.  The Parquet file (at least --megabytes MB of Leipzig
sentences, the languages in turn) is written once to $TMPDIR.

    python bench/arrow_column.py [--megabytes 200] [--repeat 3] [--runs 3] [--markdown]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ROUTES = ["qtok arrow", "qtok list", "tiktoken list", "HF list"]


def corpus_dir() -> Path:
    return Path(os.environ.get("QTOK_BENCH_CORPORA", HERE.parent.parent / "shared" / "corpora"))


def parquet_path(megabytes: int) -> Path:
    """A Parquet file of at least `megabytes` MB of text (made once)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    out = Path(tempfile.gettempdir()) / "qtok-bench" / f"leipzig-{megabytes}mb.parquet"
    if out.exists():
        return out
    files = sorted((corpus_dir() / "leipzig").glob("*.txt"))
    if not files:
        sys.exit(f"no Leipzig files under {corpus_dir()}: set QTOK_BENCH_CORPORA")
    per_lang = {f.stem: f.read_text(encoding="utf-8").splitlines() for f in files}
    size = sum(len(line.encode()) for lines in per_lang.values() for line in lines)
    copies = -(-megabytes * 1_000_000 // size)
    texts, langs = [], []
    for k in range(copies):
        for lang, lines in per_lang.items():
            # Each copy numbered, so that the caches meet new text in every copy.
            texts += [f"{line} ({k})" for line in lines]
            langs += [lang] * len(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"text": texts, "lang": langs}), out, row_group_size=65536)
    return out


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {here!r})
import pyarrow as pa, pyarrow.parquet as pq
route, threads, repeat, path = {route!r}, {threads}, {repeat}, {path!r}
column = pq.read_table(path, columns=["text"])["text"]
if route.startswith("qtok"):
    import qtok
    enc = qtok.get_encoding("qwen")
    if route == "qtok arrow":
        job = lambda: enc.encode_ordinary_arrow(column, num_threads=threads)
    else:
        job = lambda: pa.array(enc.encode_ordinary_batch(column.to_pylist(), num_threads=threads),
                               type=pa.list_(pa.uint32()))
elif route == "tiktoken list":
    from references import tiktoken_reference
    from qtok.normalize import to_nfc
    enc = tiktoken_reference()
    job = lambda: pa.array(enc.encode_ordinary_batch([to_nfc(t) for t in column.to_pylist()],
                                                     num_threads=threads),
                           type=pa.list_(pa.uint32()))
else:
    import os
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    from references import hf_reference
    tok = hf_reference()
    job = lambda: pa.array([e.ids for e in tok.encode_batch(column.to_pylist(), add_special_tokens=False)],
                           type=pa.list_(pa.uint32()))
result = job()                                    # warm-up: first pass
best = float("inf")
for _ in range(repeat):
    del result
    start = time.perf_counter()
    result = job()
    best = min(best, time.perf_counter() - start)
n_bytes = sum(b.size for b in column.combine_chunks().buffers()[2:3] if b is not None)
print(json.dumps({{"seconds": best, "bytes": n_bytes, "rows": len(column),
                  "ids": len(result.values), "output_bytes": result.nbytes,
                  "output_arrow_bytes": 4 * len(result.values) + 4 * (len(result) + 1),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(route: str, threads: int, repeat: int, path: Path) -> dict:
    code = CHILD.format(here=str(HERE), route=route, threads=threads, repeat=repeat, path=str(path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--runs", type=int, default=1,
                        help="run every route this many times, in turn; cells show min-max")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    path = parquet_path(args.megabytes)
    results = []
    for k in range(args.runs):
        for threads in [int(t) for t in args.threads.split(",")]:
            for route in args.routes.split(","):
                r = run(route, threads, args.repeat, path)
                r.update(route=route, threads=threads, run=k)
                results.append(r)
                print(f"# run {k + 1}: {route}, {threads} thread(s): {r}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    header = ["route", "threads", "MB/s", "x qtok list", "peak RSS MB", "output / Arrow size"]

    def span(values: list[float], fmt: str) -> str:
        lo, hi = min(values), max(values)
        return format(lo, fmt) if format(lo, fmt) == format(hi, fmt) else \
            f"{format(lo, fmt)}-{format(hi, fmt)}"

    lines = []
    keys = list(dict.fromkeys((r["route"], r["threads"]) for r in results))
    for route, threads in keys:
        mine = [r for r in results if (r["route"], r["threads"]) == (route, threads)]
        good = [r for r in mine if "error" not in r]
        if not good:
            lines.append([route, str(threads), mine[0]["error"][:40], "", "", ""])
            continue
        # The ratio to the list route is taken within each run (same machine state).
        ratios = []
        for r in good:
            base = next((b for b in results if b["route"] == "qtok list" and "error" not in b
                         and b["threads"] == threads and b["run"] == r["run"]), None)
            if base:
                ratios.append(base["seconds"] / r["seconds"])
        lines.append([route, str(threads), span([r["bytes"] / r["seconds"] / 1e6 for r in good], ".1f"),
                      span(ratios, ".2f") if ratios else "",
                      span([r["peak_rss_mb"] for r in good], ".0f"),
                      span([r["output_bytes"] / r["output_arrow_bytes"] for r in good], ".2f")])
    size = results[0].get("bytes", 0) / 1e6 if results else 0
    rows = results[0].get("rows", 0) if results else 0
    print(f"{path.name}: {size:.0f} MB of text in {rows:,} rows")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for line in lines:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
