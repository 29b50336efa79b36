"""Loading the vocabulary in a fresh process, and the memory it then holds.

Each round starts a new interpreter (bench/worker.py) that imports the
encoder's package and loads the Qwen vocabulary, so nothing is cached in
memory from an earlier load.  pytest-benchmark times the whole child, Python
start-up included; the child's own clock, around the import and around the
load alone (``get_encoding`` for qtok), goes in extra_info, with the resident
memory (VmRSS) after loading.  The summary at the end prints the load time and
the RSS of each encoder next to tiktoken's.
"""
from __future__ import annotations

import pytest

from encoders import ADAPTERS, SIDE_BY_SIDE, compile_bytecode
import references as ref
from worker import run_isolated

ROUNDS = 3


@pytest.mark.parametrize("key", SIDE_BY_SIDE)
def test_load_fresh_process(benchmark, summary, key):
    if key == "hf":
        ref.hf_reference()      # build the cached tokenizer.json outside the timing
    compile_bytecode([ADAPTERS[key].module])
    loads = []

    def load_in_child():
        run = run_isolated(key, [])
        if run.unavailable:
            pytest.skip(run.unavailable)
        loads.extend(run.loads)

    benchmark.group = "load (fresh process)"
    benchmark.pedantic(load_in_child, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    assert loads and all(load["load_ms"] > 0 and load["rss_after_mb"] > 0 for load in loads)

    best = min(loads, key=lambda load: load["load_ms"])
    benchmark.extra_info.update(
        import_ms=min((round(load["import_ms"], 1) for load in loads
                       if load["import_ms"] is not None), default=None),
        load_ms=round(best["load_ms"], 1),
        rss_after_load_mb=round(min(load["rss_after_mb"] for load in loads), 1),
        rss_before_import_mb=round(min(load["rss_before_mb"] for load in loads), 1),
    )
    summary("load (fresh process)", key, benchmark.extra_info["load_ms"], "ms", "load")
    summary("load (fresh process)", key, benchmark.extra_info["rss_after_load_mb"], "MB",
            "RSS after load")
