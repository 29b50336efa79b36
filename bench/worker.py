"""Measure one encoder in a process of its own (the child side of compare.py).

    python bench/worker.py '{"encoder": "qtok", "tasks": ["first", "whole", "path:spaces"]}'

Runs in a fresh interpreter so that the first pass really is over unseen
text (no encoder's caches are warm), memory figures are this encoder's alone,
and a crash (tiktoken overflows its stack on 1M spaces) takes down only this
process.  It prints one JSON object per line, flushed at once, so the parent
knows which task was running when a child died:

    {"event": "loaded", ...}             the encoder is ready (load time, RSS)
    {"event": "begin", "task": T}        about to run T
    {"event": "result", "task": T, ...}  seconds, bytes, MB/s, digest of the ids
    {"event": "unavailable", "reason"}   the encoder can't be loaded here

Tasks (every time is the best of ``rounds`` unless said otherwise):
    first        encode each corpus file once, right after loading (one pass)
    long         the files joined into one text: its first call, then best of rounds
    whole        encode each corpus file
    lines        encode each line of each file, one call per line
    batch1/2     encode_ordinary_batch of ~9 KB documents on 1 / 2 threads
    batch1new/2new  the same on new, equal str objects every round (made out of
                 the timing), as a pipeline hands them over: CPython makes a
                 str's UTF-8 when first asked and keeps it in the str
    list/numpy   encode (tiktoken-style, special-token check) vs encode_to_numpy
    count        count tokens without keeping them
    decode       ids of each file back to text (MB/s of the text produced)
    path:NAME    one 1M-character pathological input, one run: the first time
                 this encoder meets that input, so no cache of pieces helps

The parent's side is ``run_isolated`` at the end of this file: it starts the
child, reads its lines, and after a crash starts a fresh child for the rest.
"""
from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import references as ref  # noqa: E402
from encoders import ADAPTERS, Loaded, Unavailable  # noqa: E402


# -- the child's side ------------------------------------------------------------------

def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def rss_mb() -> dict[str, float]:
    """Resident memory now and at its peak (Linux /proc; empty elsewhere)."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


#: encode_ordinary_batch on 1 and 2 threads, of the same str objects every
#: round and of new ones.
BATCH_TASKS = ("batch1", "batch2", "batch1new", "batch2new")

#: The clock of every task but the batches: wall time by default; CPU time of
#: the whole process (all its threads) with compare.py --cpu-time, which a busy
#: machine disturbs far less, since time spent waiting for a core is not counted.
clock: Callable[[], float] = time.perf_counter


def best_of(rounds: int, fn: Callable[..., Any], timer: Callable[[], float] | None = None,
            setup: Callable[[], Any] | None = None) -> tuple[float, Any]:
    """Fastest of ``rounds`` calls, and the last call's result.  With
    ``setup``, each call is fn(setup()), setup called out of the timing."""
    timer = timer or clock
    best = float("inf")
    result = None
    for _ in range(max(1, rounds)):
        result = None           # free the last round's ids before timing the next
        args = () if setup is None else (setup(),)
        gc.collect()            # and don't charge this round for their garbage
        t0 = timer()
        result = fn(*args)
        best = min(best, timer() - t0)
    return best, result


#: Hex digits of each file's or line's digest in a result's "items".
ITEM_DIGEST_CHARS = 8


def item_digests(ids: list) -> str:
    """A short digest per file or line, so the parent can say how many of
    them differ from tiktoken's, not only that some do."""
    return "".join(ref.digest(seq)[:ITEM_DIGEST_CHARS] for seq in ids)


def measure(task: str, enc: Loaded, texts: dict[str, str], rounds: int,
            path_chars: int) -> dict[str, Any] | None:
    """Run one task; None when this encoder has no API for it."""
    files = list(texts.values())
    nbytes = ref.utf8_len(files)

    if task in ("first", "whole"):
        seconds, ids = best_of(1 if task == "first" else rounds,
                               lambda: [enc.encode(t) for t in files])
        return dict(seconds=seconds, bytes=nbytes, digest=ref.digest(ids, nested=True),
                    tokens=sum(map(len, ids)), items=item_digests(ids))
    if task == "lines":
        lines = ref.corpus_lines(texts)
        seconds, ids = best_of(rounds, lambda: [enc.encode(t) for t in lines])
        return dict(seconds=seconds, bytes=nbytes, digest=ref.digest(ids, nested=True),
                    calls=len(lines), items=item_digests(ids))
    if task == "long":
        # The files joined into one text: what encode(big_text) meets.  The
        # first call is over unseen text (this task runs in a child of its own).
        text = "\n".join(files)
        first, ids = best_of(1, lambda: enc.encode(text))
        seconds, ids = best_of(rounds, lambda: enc.encode(text))
        n = ref.utf8_len(text)
        return {"seconds": seconds, "bytes": n, "digest": ref.digest(ids), "tokens": len(ids),
                "first MB/s": n / first / 1e6}
    if task in BATCH_TASKS:
        if enc.batch is None:
            return None
        docs = ref.batch_documents(texts)
        threads = 2 if task.startswith("batch2") else 1
        new_strs = (lambda: ref.new_str_objects(docs)) if task.endswith("new") else None
        # Always wall time: CPU time adds the threads up and hides any speed-up.
        seconds, ids = best_of(rounds, lambda given=docs: enc.batch(given, threads),
                               timer=time.perf_counter, setup=new_strs)
        return dict(seconds=seconds, bytes=nbytes, digest=ref.digest(ids, nested=True),
                    docs=len(docs), threads=threads)
    if task in ("list", "numpy"):
        fn = enc.encode_checked if task == "list" else enc.encode_numpy
        if fn is None:
            return None
        seconds, ids = best_of(rounds, lambda: [fn(t) for t in files])
        return dict(seconds=seconds, bytes=nbytes, digest=ref.digest(ids, nested=True))
    if task == "count":
        if enc.count is None:
            return None
        seconds, counts = best_of(rounds, lambda: [enc.count(t) for t in files])
        return dict(seconds=seconds, bytes=nbytes, tokens=sum(counts))
    if task == "decode":
        if enc.decode is None:
            return None
        ids = [enc.encode(t) for t in files]
        seconds, out = best_of(rounds, lambda: [enc.decode(i) for i in ids])
        return dict(seconds=seconds, bytes=ref.utf8_len(out), roundtrip=out == files)
    if task.startswith("path:"):
        text = ref.pathological_input(task[5:], path_chars)
        seconds, ids = best_of(1, lambda: enc.encode(text))
        return dict(seconds=seconds, bytes=ref.utf8_len(text), digest=ref.digest(ids),
                    tokens=len(ids))
    raise ValueError(f"unknown task {task!r}")


def pin_to_one_cpu() -> int | None:
    """Keep this process, and every thread it starts from now on, on one CPU.

    The single-thread rows are meant to measure one core's work.  An encoder
    may start helper threads inside a single ``encode`` call (fastokens does:
    its process used ~1.6 s of CPU time per second of wall time on whole
    files), and on a 2-core machine those borrow the second core.  Pinning
    before anything is imported also pins any thread pool created later.
    Returns the CPU, or None where affinity can't be set."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})
    return cpus[-1]


def main(spec: dict[str, Any]) -> int:
    global clock
    if spec.get("cpu_time"):
        clock = time.process_time
    pinned = pin_to_one_cpu() if spec.get("pin") else None
    adapter = ADAPTERS[spec["encoder"]]
    rounds = int(spec.get("rounds", 3))
    path_chars = int(spec.get("path_chars", ref.PATHOLOGICAL_CHARS))
    tasks = list(spec["tasks"])

    # The references read the pattern from qtok; fetch it before the clock
    # starts so other encoders' load times don't include importing qtok.
    if not adapter.key.startswith("qtok"):
        ref.qwen_pattern_and_specials()
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    try:
        if adapter.module:
            importlib.import_module(adapter.module)
    except ImportError as e:
        emit("unavailable", reason=f"{adapter.package} is not installed ({e}); "
                                   f"pip install {adapter.package}, or the project's bench extra")
        return 0
    t1 = time.perf_counter()
    try:
        enc = adapter.load()
    except Unavailable as e:
        emit("unavailable", reason=str(e))
        return 0
    t2 = time.perf_counter()
    after = rss_mb()
    # An adapter without a module of its own imports inside its loader: its
    # import is in load_ms, and it has no import time of its own to show.
    emit("loaded", version=adapter.version(), pinned_cpu=pinned,
         import_ms=(t1 - t0) * 1e3 if adapter.module else None, load_ms=(t2 - t1) * 1e3,
         rss_before_mb=before.get("VmRSS"), rss_after_mb=after.get("VmRSS"),
         rss_peak_mb=after.get("VmHWM"), notes=enc.notes)

    texts = ref.load_corpus(spec.get("max_lines")) if any(
        not t.startswith("path:") for t in tasks) else {}
    for task in tasks:
        if not task.startswith("path:") and not texts:
            emit("result", task=task, skipped="no corpus")
            continue
        emit("begin", task=task)
        result = measure(task, enc, texts, rounds, path_chars)
        if result is None:
            emit("result", task=task, skipped="no API")
        else:
            result["MB/s"] = result["bytes"] / result["seconds"] / 1e6
            emit("result", task=task, **result)
    return 0


# -- the parent's side: run a worker, survive its crashes ----------------------------

@dataclass
class ChildRun:
    """What one encoder's child processes reported."""
    encoder: str
    loads: list[dict[str, Any]] = field(default_factory=list)   # one per process started
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: str | None = None


def _reader(stream, queue: Queue) -> None:
    for line in stream:
        queue.put(line)
    queue.put(None)


def run_isolated(encoder: str, tasks: list[str], *, rounds: int = 3, max_lines: int | None = None,
                 path_chars: int = ref.PATHOLOGICAL_CHARS, task_timeout: float = 120.0,
                 load_timeout: float = 120.0, stack_bytes: int | None = None,
                 cpu_time: bool = False, pin: bool = False,
                 path_timeout: float | None = None) -> ChildRun:
    """Run ``tasks`` for one encoder in a child process (on one CPU if ``pin``).

    If the child dies (a crash, or a task over ``task_timeout`` seconds, or a
    pathological input over ``path_timeout``, after which it is killed) the
    task it was running is recorded as failed and a fresh child carries on
    with the tasks after it.  ``stack_bytes`` caps the
    child's main-thread stack, to probe with a margin whether an input is safe
    to run in a process with the usual, larger, stack.
    """
    run = ChildRun(encoder)
    remaining = list(tasks)

    def limit(task: str | None) -> float:
        """Seconds a task may take before its child is killed."""
        if path_timeout and task and task.startswith("path:"):
            return path_timeout
        return task_timeout

    while True:
        spec = dict(encoder=encoder, tasks=remaining, rounds=rounds, max_lines=max_lines,
                    path_chars=path_chars, cpu_time=cpu_time, pin=pin)
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen([sys.executable, __file__, json.dumps(spec)],
                                    stdout=subprocess.PIPE, stderr=err, text=True,
                                    preexec_fn=_stack_limiter(stack_bytes))
            lines: Queue = Queue()
            threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
            current: str | None = None
            loaded = False
            timed_out = False
            while True:
                try:
                    line = lines.get(timeout=limit(current) if loaded else load_timeout)
                except Empty:
                    proc.kill()
                    timed_out = True
                    break
                if line is None:
                    break
                msg = json.loads(line)
                event = msg.pop("event")
                if event == "loaded":
                    loaded = True
                    run.loads.append(msg)
                elif event == "unavailable":
                    run.unavailable = msg["reason"]
                elif event == "begin":
                    current = msg["task"]
                elif event == "result":
                    run.results[msg.pop("task")] = msg
                    current = None
            proc.wait()
            err.seek(0)
            stderr_tail = [s for s in err.read().strip().splitlines() if s.strip()][-1:]
        if proc.returncode == 0 and not timed_out:
            return run
        why = "timeout" if timed_out else "crash"
        detail = f"over {limit(current):.0f} s, killed" if timed_out else (
            _describe_exit(proc.returncode) + (f": {stderr_tail[0][:160]}" if stderr_tail else ""))
        if current is None:
            # Died while loading (or between tasks): nothing more to learn here.
            run.unavailable = run.unavailable or f"worker {why} ({detail})"
            return run
        run.results[current] = dict(failed=why, detail=detail)
        remaining = remaining[remaining.index(current) + 1:]
        if not remaining:
            return run


def _stack_limiter(stack_bytes: int | None) -> Callable[[], None] | None:
    if stack_bytes is None:
        return None

    def limit() -> None:        # runs in the child between fork and exec
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
        cap = stack_bytes if hard == resource.RLIM_INFINITY else min(stack_bytes, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_STACK, (cap, hard))
    return limit


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
