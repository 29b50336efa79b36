"""The compression report on the local engine and on Ray, on the same Parquet shards.

The data: the Leipzig sentences of the shared corpora, numbered copies of
them up to --megabytes MB, written once to $TMPDIR as --shards Parquet files
with a text and a language column (the layout a real cluster reads: many
files of one schema).  Each run is its own process, in turn, --repeat times:

  local          qtok report --corpus 'shards/*.parquet'  (reads with datasets,
                 encodes on all cores)
  ray, N worker  qtok report --engine ray --num-workers N  (a local Ray it
                 starts; tasks of one CPU each)

The wall time includes everything a user waits for (reading, Ray's start,
the merge).  Every run's JSON must equal the first local run's, or the
script stops.

    python bench/report_engines.py [--megabytes 100] [--shards 8] [--repeat 3] [--markdown]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from arrow_column import parquet_path  # noqa: E402  (the same numbered Leipzig text)


def shard_dir(megabytes: int, shards: int) -> Path:
    import pyarrow.parquet as pq
    out = Path(tempfile.gettempdir()) / "qtok-bench" / f"report-{megabytes}mb-{shards}"
    if out.exists() and len(list(out.glob("*.parquet"))) == shards:
        return out
    out.mkdir(parents=True, exist_ok=True)
    table = pq.read_table(parquet_path(megabytes))
    step = -(-table.num_rows // shards)
    for i in range(shards):
        pq.write_table(table.slice(i * step, step), out / f"part-{i:04d}.parquet",
                       row_group_size=16384)
    return out


def run(engine: str, workers: int | None, shards: Path) -> tuple[float, list]:
    cmd = [sys.executable, "-m", "qtok", "report", "--corpus", str(shards / "*.parquet"),
           "--text-column", "text", "--lang-column", "lang", "--format", "json",
           "--no-progress", "--engine", engine]
    if workers:
        cmd += ["--num-workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return seconds, json.loads(done.stdout)["results"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megabytes", type=int, default=100)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    shards = shard_dir(args.megabytes, args.shards)
    size = sum(f.stat().st_size for f in shards.glob("*.parquet"))
    configs = [("local", None), ("ray", 1), ("ray", 2)]
    times: dict[tuple, list[float]] = {c: [] for c in configs}
    reference = None
    text_bytes = None
    for _ in range(args.repeat):
        for config in configs:
            seconds, rows = run(*config, shards)
            if reference is None:
                reference = rows
                text_bytes = sum(r["bytes"] for r in rows)
            elif rows != reference:
                sys.exit(f"{config}: the report differs from the local engine's")
            times[config].append(seconds)
            print(f"{config[0]:5} workers={config[1] or '-'}  {seconds:6.1f} s", file=sys.stderr)
    mb = text_bytes / 1e6
    lines = [f"{args.shards} Parquet shards, {size / 1e6:.0f} MB on disk, {mb:.0f} MB of text; "
             f"wall time per run ({args.repeat} runs, alternating; same rows on every run)", "",
             "| engine | workers | seconds (min-max) | MB/s of text (best) |", "|---|---|---|---|"]
    for (engine, workers), ts in times.items():
        label = "all cores (native threads)" if workers is None else str(workers)
        lines.append(f"| {engine} | {label} | {min(ts):.1f}-{max(ts):.1f} | {mb / min(ts):.1f} |")
    print("\n".join(lines) if args.markdown else "\n".join(lines).replace("|", " "))


if __name__ == "__main__":
    main()
