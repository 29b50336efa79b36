"""One table: qtok against tiktoken, HF tokenizers and the other installed peers.

    python bench/compare.py              # a few minutes
    python bench/compare.py --quick      # under a minute: fewer lines, fewer rounds
    python bench/compare.py --markdown   # the same table as Markdown
    python bench/compare.py --arrow      # and column -> ids as Arrow on a 200 MB Parquet file

Every encoder runs in a child process of its own (``worker.py``): caches and
memory of one never help or hurt another, the first pass really meets unseen
text, and a crash is contained (reported as "crash").  The ratios are to
tiktoken's figure from the same run, so they compare like with like even when
the machine is busy.  See ``bench/README.md`` for what every row means.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import references as ref  # noqa: E402
from encoders import ADAPTERS, compile_bytecode  # noqa: E402
from worker import BATCH_TASKS, ITEM_DIGEST_CHARS, ChildRun, run_isolated  # noqa: E402

BASELINE = "tiktoken"
CORPUS_TASKS = ["first", "whole", "lines", *BATCH_TASKS, "list", "numpy", "count", "decode"]
PATH_TASKS = [f"path:{name}" for name in ref.PATHOLOGICAL]
SINGLE_THREAD_TASKS = [t for t in CORPUS_TASKS if t not in BATCH_TASKS] + PATH_TASKS
#: What the unpinned columns measure: the calls an encoder may spread over the
#: cores by itself (one text per call), as a default install does.
UNPINNED_TASKS = ["first", "whole", "lines", "count"]
#: Suffix of the key of an encoder's unpinned column.
UNPINNED = "@all"


def adapter_of(key: str):
    return ADAPTERS[key.removesuffix(UNPINNED)]


def label(key: str) -> str:
    return adapter_of(key).label + (" unpinned" if key.endswith(UNPINNED) else "")


@dataclass
class Settings:
    rounds: int
    max_lines: int | None
    load_runs: int
    path_chars: int
    task_timeout: float
    #: one pathological input: an encoder that needs longer (under 0.03 MB/s on
    #: 1M characters) is shown as "timeout"
    path_timeout: float = 30.0
    #: rounds of fresh processes per encoder for every corpus row, the best
    #: kept (measure_all): a first call can be timed only once per process, and
    #: one process carries all of a busy machine's noise at the moment it runs
    first_runs: int = 1


FULL = Settings(rounds=3, max_lines=None, load_runs=3, path_chars=ref.PATHOLOGICAL_CHARS,
                task_timeout=120.0, first_runs=3)
# --quick: 100 lines per file (~0.35 MB), one round, best of 2, one load, pathological
# inputs of 500k characters (HF alone spends ~1 s per 1M; they stay big enough
# for anything quadratic to show).
QUICK = Settings(rounds=2, max_lines=100, load_runs=1, path_chars=ref.PATHOLOGICAL_CHARS // 2,
                 task_timeout=60.0)


# -- running ---------------------------------------------------------------------------

def ensure_hf_cache() -> None:
    """Build the HF tokenizer.json once, outside any timed load."""
    if not ref.hf_cache_path().is_file():
        print("building the HF reference tokenizer.json (once) ...", file=sys.stderr)
        run_isolated("hf", [])


def _merge(run: ChildRun, more: ChildRun) -> None:
    run.results.update(more.results)
    run.loads.extend(more.loads)


def _keep_faster(run: ChildRun, more: ChildRun) -> None:
    """Fold another round's fresh processes into run: for each task the
    shorter time, and for the long text also the faster first call.  The ids
    were checked in run; the same input's digests do not change."""
    for task, again in more.results.items():
        mine = run.results.get(task) or {}
        if "seconds" in mine and again.get("seconds", float("inf")) < mine["seconds"]:
            mine["seconds"] = again["seconds"]
            mine["MB/s"] = again["MB/s"]
        if "first MB/s" in mine and again.get("first MB/s", 0.0) > mine["first MB/s"]:
            mine["first MB/s"] = again["first MB/s"]
    run.loads.extend(more.loads)


def run_children(key: str, children: list[tuple[list[str], bool]], common: dict) -> ChildRun:
    """An encoder's children (tasks, pinned or not), fresh processes one after
    another, merged into one run; the rest only if the first loaded it."""
    run = run_isolated(key, children[0][0], pin=children[0][1], **common)
    if not run.unavailable:             # installed, and it loaded
        for tasks, pinned in children[1:]:
            _merge(run, run_isolated(key, tasks, pin=pinned, **common))
    return run


def time_again(run: ChildRun, key: str, children: list[tuple[list[str], bool]],
               common: dict) -> None:
    """One more round of run's children (tasks, pinned or not), fresh processes,
    folded in by _keep_faster; nothing is folded if one of them failed to start."""
    if run.unavailable:
        return
    extra = ChildRun(key)
    for tasks, pin in children:
        more = run_isolated(key, tasks, pin=pin, **common)
        if more.unavailable:
            return
        _merge(extra, more)
    _keep_faster(run, extra)


def _corpus_only(tasks: list[str]) -> list[str]:
    """The tasks timed again in each further round: all but the pathological
    inputs, which are timed once, at first sight."""
    return [t for t in tasks if not t.startswith("path:")]


def measure_all(keys: list[str], settings: Settings, log: Callable[[str], None],
                cpu_time: bool = False, pin: bool = True, unpinned_too: bool = False
                ) -> dict[str, ChildRun]:
    """Every encoder's tasks, in children of its own, one encoder after another.

    With ``pin`` the single-thread tasks run in a child kept on one CPU (see
    worker.pin_to_one_cpu) and the batches in a second child free to use
    every CPU; without it one unpinned child runs everything.  The one long
    text ("long") has a child of its own, so that its first call meets text
    the encoder has not seen.  ``unpinned_too`` adds a column per encoder:
    UNPINNED_TASKS and the long text again, in children free to use every CPU.

    Then settings.first_runs - 1 further rounds (time_again) of the same
    children, less the pathological inputs, each round taking every encoder
    in turn; every corpus row keeps its best over the rounds.  A first call
    can be timed only once per process, and a busy spell on the machine slows
    every figure of the processes it falls on: taken in turn, it falls on one
    round of several encoders, not on every process of one."""
    runs: dict[str, ChildRun] = {}
    again: dict[str, list[tuple[list[str], bool]]] = {}   # each run's children, to repeat
    common = dict(rounds=settings.rounds, max_lines=settings.max_lines,
                  path_chars=settings.path_chars, task_timeout=settings.task_timeout,
                  path_timeout=settings.path_timeout, cpu_time=cpu_time)
    for key in keys:
        t0 = time.perf_counter()
        log(f"{label(key)}: measuring ...")
        if pin:
            children = [(SINGLE_THREAD_TASKS, True), (["long"], True), (BATCH_TASKS, False)]
        else:
            children = [(CORPUS_TASKS + PATH_TASKS, False), (["long"], False)]
        run = run_children(key, children, common)
        # Extra fresh processes that only load, for a steadier load time.
        for _ in range(settings.load_runs - 1):
            if run.unavailable:
                break
            run.loads.extend(run_isolated(key, []).loads)
        runs[key] = run
        again[key] = [(_corpus_only(tasks), pinned) for tasks, pinned in children]
        if unpinned_too and pin and not run.unavailable:
            free = [(UNPINNED_TASKS, False), (["long"], False)]
            runs[key + UNPINNED] = run_children(key, free, common)
            again[key + UNPINNED] = free
        log(f"{label(key)}: done in {time.perf_counter() - t0:.1f} s"
            + (f" ({run.unavailable})" if run.unavailable else ""))
    for number in range(settings.first_runs - 1):
        t0 = time.perf_counter()
        for key in keys:
            for column in (key, key + UNPINNED):
                if column in runs:
                    time_again(runs[column], key, again[column], common)
        log(f"round {number + 2} of {settings.first_runs}: done in "
            f"{time.perf_counter() - t0:.1f} s")
    return runs


# -- the table ------------------------------------------------------------------------

@dataclass
class Row:
    label: str
    unit: str
    value: Callable[[ChildRun], float | str | None]
    ratio: bool = True          # show value / tiktoken's value
    fmt: str = "{:.1f}"
    task: str = ""              # the worker task behind it, to flag inexact results


def mbps(task: str, key: str = "MB/s") -> Callable[[ChildRun], float | str | None]:
    def get(run: ChildRun) -> float | str | None:
        r = run.results.get(task)
        if r is None or "skipped" in r:
            return None
        if "failed" in r:
            return r["failed"]
        return r[key]
    return get


def quotient(top: str, bottom: str) -> Callable[[ChildRun], float | None]:
    def get(run: ChildRun) -> float | None:
        a, b = mbps(top)(run), mbps(bottom)(run)
        return a / b if isinstance(a, float) and isinstance(b, float) else None
    return get


def best_load(field_: str) -> Callable[[ChildRun], float | None]:
    def get(run: ChildRun) -> float | None:
        values = [load[field_] for load in run.loads if load.get(field_) is not None]
        return min(values) if values else None
    return get


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def rows(settings: Settings) -> list[Row]:
    r = settings.rounds
    # Every corpus row is timed in each round (measure_all): r rounds of a warm row each time.
    p = settings.first_runs
    w = f"{r}" if p == 1 else f"{r * p} ({p} processes)"
    out = [
        Row("first pass, whole files (fresh process)", "MB/s", mbps("first"), task="first"),
        Row(f"best of {w}, whole files", "MB/s", mbps("whole"), task="whole"),
        Row(f"best of {w}, line by line", "MB/s", mbps("lines"), task="lines"),
        Row("one text, the files joined: first call", "MB/s", mbps("long", "first MB/s"),
            task="long"),
        Row(f"one text, the files joined: best of {w}", "MB/s", mbps("long"), task="long"),
        Row("batch of ~9 KB docs, 1 thread", "MB/s", mbps("batch1"), task="batch1"),
        Row("batch of ~9 KB docs, 2 threads", "MB/s", mbps("batch2"), task="batch2"),
        Row("batch: 2 threads / 1 thread", "x", quotient("batch2", "batch1"), ratio=False,
            fmt="{:.2f}"),
        Row("batch of new str objects, 1 thread", "MB/s", mbps("batch1new"), task="batch1new"),
        Row("batch of new str objects, 2 threads", "MB/s", mbps("batch2new"), task="batch2new"),
        Row("batch of new str objects: 2 threads / 1", "x", quotient("batch2new", "batch1new"),
            ratio=False, fmt="{:.2f}"),
        Row("encode (list), whole files", "MB/s", mbps("list"), task="list"),
        Row("encode_to_numpy, whole files", "MB/s", mbps("numpy"), task="numpy"),
        Row("numpy / list", "x", quotient("numpy", "list"), ratio=False, fmt="{:.2f}"),
        Row("count, whole files", "MB/s", mbps("count"), task="count"),
        Row("decode (MB/s of text out)", "MB/s", mbps("decode"), task="decode"),
        Row("import module (fresh process)", "ms", best_load("import_ms")),
        Row("load vocabulary (fresh process)", "ms", best_load("load_ms")),
        Row("RSS after load", "MB", best_load("rss_after_mb")),
    ]
    for task in PATH_TASKS:
        out.append(Row(f"{size_label(settings.path_chars)} chars: {task[5:]}", "MB/s", mbps(task),
                       task=task))
    return out


@dataclass
class Exactness:
    corpus: list[str]           # corpus tasks whose ids differ from tiktoken's
    pathological: list[str]     # pathological tasks whose ids differ from HF's / tiktoken's
    corpus_checked: bool = True
    #: per corpus task, (files or lines whose ids differ, how many there are)
    mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)

    def flag(self, task: str) -> str:
        """What a cell of ``task`` says besides its figure: "" when exact."""
        if task in self.mismatches:
            bad, total = self.mismatches[task]
            return f" inexact {bad:,}/{total:,}"
        return " inexact" if task in self.corpus + self.pathological else ""

    def verdict(self) -> str:
        corpus = ("corpus: not measured" if not self.corpus_checked
                  else "corpus: exact" if not self.corpus
                  else "corpus: DIFFERS (" + ", ".join(
                      t + (f": {self.mismatches[t][0]:,} of {self.mismatches[t][1]:,} "
                           + ("lines" if t == "lines" else "files") if t in self.mismatches else "")
                      for t in self.corpus) + ")")
        path = ("pathological: exact" if not self.pathological
                else f"pathological: DIFFERS ({', '.join(t[5:] for t in self.pathological)})")
        return f"{corpus}; {path}"


def exactness_all(all_runs: list[dict[str, ChildRun]]) -> dict[str, Exactness]:
    """Exactness over several runs: a task differs if it differed in any."""
    out: dict[str, Exactness] = {}
    for runs in all_runs:
        for key, check in exactness(runs).items():
            if key not in out:
                out[key] = check
                continue
            seen = out[key]
            seen.corpus += [t for t in check.corpus if t not in seen.corpus]
            seen.pathological += [t for t in check.pathological if t not in seen.pathological]
            seen.corpus_checked = seen.corpus_checked or check.corpus_checked
            for task, counts in check.mismatches.items():
                seen.mismatches[task] = max(counts, seen.mismatches.get(task, (0, 0)))
    return out


def exactness(runs: dict[str, ChildRun]) -> dict[str, Exactness]:
    """Per encoder: does it give tiktoken's ids on the corpus, and HF's (the
    reference, and tiktoken's where it survives) on the pathological inputs?
    Compared by digest of the ids, task by task."""
    base = runs.get(BASELINE)
    hf = runs.get("hf")
    out: dict[str, Exactness] = {}
    for key, run in runs.items():
        if run.unavailable:
            continue
        corpus = []
        for task in CORPUS_TASKS + ["long"]:
            mine = run.results.get(task, {}).get("digest")
            theirs = base.results.get(task, {}).get("digest") if base else None
            if mine and theirs and mine != theirs:
                corpus.append(task)
            if run.results.get(task, {}).get("roundtrip") is False:
                corpus.append(task)          # decode did not give the text back
        mismatches = {}
        for task in ("first", "whole", "lines"):
            mine = run.results.get(task, {}).get("items")
            theirs = base.results.get(task, {}).get("items") if base else None
            if mine and theirs and len(mine) == len(theirs) and task in corpus:
                w = ITEM_DIGEST_CHARS
                starts = range(0, len(mine), w)
                mismatches[task] = (sum(mine[i:i + w] != theirs[i:i + w] for i in starts),
                                    len(starts))
        # count has no ids to digest: its total must be tiktoken's number of ids.
        counted = run.results.get("count", {}).get("tokens")
        expected = base.results.get("whole", {}).get("tokens") if base else None
        if counted is not None and expected is not None and counted != expected:
            corpus.append("count")
        path = []
        for task in PATH_TASKS:
            mine = run.results.get(task, {}).get("digest")
            refs = [r.results.get(task, {}).get("digest") for r in (hf, base) if r and r is not run]
            if mine and any(d and d != mine for d in refs):
                path.append(task)
        checked = any("digest" in run.results.get(task, {}) for task in CORPUS_TASKS)
        out[key] = Exactness(corpus, path, corpus_checked=checked, mismatches=mismatches)
    return out


def span(values: list[float], fmt: str) -> str:
    """One figure, or the range over the runs: "20.6-20.8"."""
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return low if low == high else f"{low}-{high}"


def cell(values: list[float | str | None], bases: list[float | str | None], row: Row,
         flag: str) -> str:
    """A value per run (and tiktoken's in the same runs): the range of the
    values, and the range of the per-run ratios to tiktoken."""
    numbers = [v for v in values if isinstance(v, float)]
    if not numbers:
        failed = [v for v in values if isinstance(v, str)]
        return failed[0] if failed else "-"          # "crash" / "timeout"
    text = span(numbers, row.fmt)
    ratios = [v / b for v, b in zip(values, bases)
              if isinstance(v, float) and isinstance(b, float) and b > 0]
    if row.ratio and ratios:
        text += f" ({span(ratios, '{:.2f}')}x)"
    failures = len(values) - len(numbers)
    return text + flag + (f" ({failures} failed)" if failures else "")


def build_table(all_runs: list[dict[str, ChildRun]], settings: Settings
                ) -> tuple[list[str], list[list[str]]]:
    """The table over one or more runs of every encoder (``--runs``)."""
    keys = [k for k, run in all_runs[0].items() if not run.unavailable]
    header = ["mode", "unit"] + [label(k) for k in keys]
    checks = exactness_all(all_runs)
    body = []
    for row in rows(settings):
        cells = []
        for k in keys:
            values = [row.value(runs[k]) if k in runs else None for runs in all_runs]
            bases = [row.value(runs[BASELINE]) if BASELINE in runs and k != BASELINE else None
                     for runs in all_runs]
            cells.append(cell(values, bases, row, flag=checks[k].flag(row.task) if row.task else ""))
        if any(c != "-" for c in cells):
            body.append([row.label, row.unit] + cells + [lead(all_runs, keys, row, checks)])
    header.append("qtok / best peer")
    body.append(["exact (ids equal tiktoken's / HF's)", ""] + [
        "yes" if not (checks[k].corpus or checks[k].pathological) else "NO" for k in keys] + [""])
    return header, body


def lead(all_runs: list[dict[str, ChildRun]], keys: list[str], row: Row,
         checks: dict[str, Exactness]) -> str:
    """qtok's figure over the best other encoder's, per run (pinned against
    pinned), with that encoder's name; above 1 means qtok is first.  Peers
    that are not exact on the row do not count."""
    if row.unit not in ("MB/s", "ms", "MB"):
        return ""
    higher_is_better = row.unit == "MB/s"
    peers = [k for k in keys if not k.startswith("qtok") and not k.endswith(UNPINNED)
             and not (row.task and checks[k].flag(row.task))]
    ratios, leaders = [], set()
    for runs in all_runs:
        mine = row.value(runs["qtok"]) if "qtok" in runs else None
        theirs = {k: row.value(runs[k]) for k in peers if k in runs}
        theirs = {k: v for k, v in theirs.items() if isinstance(v, float) and v > 0}
        if not isinstance(mine, float) or mine <= 0 or not theirs:
            continue
        best = (max if higher_is_better else min)(theirs, key=theirs.get)
        ratios.append(mine / theirs[best] if higher_is_better else theirs[best] / mine)
        leaders.add(label(best))
    if not ratios:
        return "-"
    return f"{span(ratios, '{:.2f}')}x ({', '.join(sorted(leaders))})"


def render(header: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)   # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule] + [fmt(r) for r in body])


# -- the context a reader needs --------------------------------------------------------

def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, {platform.system()}"


def preamble(all_runs: list[dict[str, ChildRun]], settings: Settings, texts: dict[str, str],
             argv: list[str], markdown: bool, cpu_time: bool) -> list[str]:
    runs = all_runs[0]
    folder = ref.corpus_dir()
    # What the children report, not what was asked: where affinity can't be
    # set (not Linux) they run unpinned whatever the flag says.
    pinned = any(load.get("pinned_cpu") is not None for r in runs.values() for load in r.loads)
    unpinned_columns = any(k.endswith(UNPINNED) for k in runs)
    nbytes = ref.utf8_len(texts.values())
    corpus = (f"corpus: {os.path.relpath(folder, ref.ROOT)}: {len(texts)} files, "
              f"{nbytes / 1e6:.2f} MB of NFC text"
              + (f" (first {settings.max_lines} lines of each)" if settings.max_lines else "")
              if folder else "corpus: none found, corpus rows not measured")
    lines = [
        f"command: python bench/compare.py {' '.join(shlex.quote(a) for a in argv)}".rstrip(),
        f"date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"machine: {machine()}",
        corpus,
        f"pathological inputs: {settings.path_chars:,} characters each",
        "clock: " + ("CPU time of the process (batches: wall clock)" if cpu_time else "wall clock"),
        "CPUs: " + ("every encoder's single-thread tasks on one CPU, its batches on all"
                    if pinned else "not pinned: single-thread tasks may use every CPU")
        + ("; the 'unpinned' columns: the same calls free to use every CPU"
           if unpinned_columns else ""),
        "versions: " + ", ".join(f"{ADAPTERS[k].label} {ADAPTERS[k].version()}"
                                 for k, r in runs.items()
                                 if not r.unavailable and not k.endswith(UNPINNED)),
        (f"runs: {len(all_runs)}, every encoder once per run, in turn; a cell gives the range "
         "over the runs" if len(all_runs) > 1 else "runs: 1"),
        (f"rounds: {settings.first_runs} a run, each taking every encoder in turn in fresh "
         f"processes; every corpus row keeps the best of its {settings.first_runs} "
         "(the pathological inputs: the first round only)"
         if settings.first_runs > 1 else "rounds: 1"),
        "cells: value (value / tiktoken's value in the same run); MB = 10^6 bytes of UTF-8; "
        "for ms and MB rows lower is better; 'qtok / best peer': qtok's figure over the best "
        "other encoder's that is exact on the row, in the same run (above 1: qtok is first)",
    ]
    prefix = "- " if markdown else ""
    return [prefix + line for line in lines]


def notes(all_runs: list[dict[str, ChildRun]], markdown: bool) -> list[str]:
    out = []
    for number, runs in enumerate(all_runs, 1):
        for key, run in runs.items():
            name = label(key)
            if run.unavailable:
                if number == 1:
                    out.append(f"{name}: skipped: {run.unavailable}")
                continue
            if number == 1 and not key.endswith(UNPINNED):
                out.extend((run.loads[0].get("notes") or []) if run.loads else [])
            for task, result in run.results.items():
                if "failed" in result:
                    out.append(f"{name} on {task}"
                               + (f" (run {number})" if len(all_runs) > 1 else "")
                               + f": {result['failed']}: {result['detail']}")
    for key, check in exactness_all(all_runs).items():
        out.append(f"{label(key)}: {check.verdict()}")
    prefix = "- " if markdown else "  "
    return [prefix + n for n in out]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="under a minute: a slice of the corpus")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--encoders", default=",".join(ADAPTERS),
                        help=f"comma-separated subset of {','.join(ADAPTERS)}")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by the process's CPU time instead of the wall clock (steadier "
                             "on a busy machine; batches stay on the wall clock)")
    parser.add_argument("--unpinned", action="store_true",
                        help="let the single-thread tasks run on every CPU (by default they run "
                             "on one, so an encoder's helper threads can't borrow another core)")
    parser.add_argument("--runs", type=int, default=1, metavar="N",
                        help="measure every encoder N times, in turn (cells give the range)")
    parser.add_argument("--unpinned-too", action="store_true",
                        help="add a column per encoder with the single-text calls free to use "
                             "every CPU, beside the pinned one")
    parser.add_argument("--json", metavar="PATH", help="also save every raw measurement here")
    parser.add_argument("--arrow", type=int, nargs="?", const=200, metavar="MB",
                        help="also time column -> ids as Arrow on a Parquet file of MB megabytes "
                             "(default 200): qtok's Arrow path against the list routes "
                             "(bench/arrow_column.py)")
    args = parser.parse_args(argv)

    keys = [k.strip() for k in args.encoders.split(",") if k.strip()]
    unknown = [k for k in keys if k not in ADAPTERS]
    if unknown:
        parser.error(f"unknown encoder(s) {unknown}; choose from {list(ADAPTERS)}")
    if BASELINE not in keys:
        keys.insert(0, BASELINE)            # ratios need it
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    settings = QUICK if args.quick else FULL
    texts = ref.load_corpus(settings.max_lines)
    if not texts:
        print("no corpus found ($QTOK_TEST_CORPORA/leipzig or corpora/): only the pathological "
              "inputs and load times will be measured", file=sys.stderr)

    t0 = time.perf_counter()
    log = lambda msg: print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr)  # noqa: E731
    if "hf" in keys:
        ensure_hf_cache()
    compile_bytecode([adapter_of(k).module for k in keys])
    all_runs = []
    for number in range(args.runs):
        if args.runs > 1:
            log(f"run {number + 1} of {args.runs}")
        all_runs.append(measure_all(keys, settings, log, cpu_time=args.cpu_time,
                                    pin=not args.unpinned, unpinned_too=args.unpinned_too))
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{k: {"loads": r.loads, "results": r.results, "unavailable": r.unavailable}
              for k, r in runs.items()} for runs in all_runs], indent=1))

    header, body = build_table(all_runs, settings)
    print("\n".join(preamble(all_runs, settings, texts, argv, args.markdown, args.cpu_time)))
    print()
    print(render(header, body, args.markdown))
    print()
    print("notes:")
    print("\n".join(notes(all_runs, args.markdown)))
    if args.arrow:
        import arrow_column
        print()
        print("column -> ids as Arrow (each route in its own process):")
        arrow_column.main(["--megabytes", str(args.arrow), "--repeat", str(settings.rounds)]
                          + (["--markdown"] if args.markdown else []))
    log("finished")
    missing_required = [k for k in keys if all_runs[0][k].unavailable and ADAPTERS[k].required]
    return 1 if missing_required else 0


if __name__ == "__main__":
    sys.exit(main())
