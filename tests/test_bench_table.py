"""bench/compare.py's table: ranges over runs, ratios from the same run, how many
files or lines a peer gets wrong, and which encoder qtok is measured against.

The figures here are made up; what is checked is the arithmetic and the
bookkeeping that turn the children's reports into cells.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

compare = pytest.importorskip("compare")
from worker import ChildRun  # noqa: E402


def child(key: str, **tasks: dict) -> ChildRun:
    run = ChildRun(key)
    run.loads.append({"load_ms": 10.0, "import_ms": 1.0, "rss_after_mb": 50.0})
    run.results.update(tasks)
    return run


def whole(mbps: float, items: str = "aaaaaaaabbbbbbbbcccccccc", digest: str = "d") -> dict:
    return {"MB/s": mbps, "seconds": 1.0, "bytes": 1, "digest": digest, "items": items,
            "tokens": 3}


def row(task: str) -> compare.Row:
    return next(r for r in compare.rows(compare.QUICK) if r.task == task)


def test_a_cell_gives_the_range_of_the_values_and_of_the_per_run_ratios():
    r = row("whole")
    # Run 1: 20 against tiktoken's 10 (2x); run 2: 30 against 10 (3x).
    assert compare.cell([20.0, 30.0], [10.0, 10.0], r, "") == "20.0-30.0 (2.00-3.00x)"
    assert compare.cell([20.0, 20.0], [10.0, 10.0], r, "") == "20.0 (2.00x)"
    # A run that failed is said, not dropped silently.
    assert compare.cell([20.0, "crash"], [10.0, 10.0], r, "") == "20.0 (2.00x) (1 failed)"
    assert compare.cell(["timeout", "timeout"], [10.0, 10.0], r, "") == "timeout"
    assert compare.cell([None, None], [10.0, 10.0], r, "") == "-"


def test_a_peer_that_differs_is_shown_with_how_many_files_differ():
    runs = {
        "tiktoken": child("tiktoken", whole=whole(5.0)),
        "qtok": child("qtok", whole=whole(50.0)),
        # Its second file's ids differ from tiktoken's.
        "fastokens": child("fastokens", whole=whole(40.0, "aaaaaaaaXXXXXXXXcccccccc", "e")),
    }
    checks = compare.exactness(runs)
    assert checks["qtok"].corpus == []
    assert checks["fastokens"].corpus == ["whole"]
    assert checks["fastokens"].mismatches["whole"] == (1, 3)
    assert checks["fastokens"].flag("whole") == " inexact 1/3"
    assert "whole: 1 of 3 files" in checks["fastokens"].verdict()
    header, body = compare.build_table([runs], compare.QUICK)
    line = next(b for b in body if b[0].startswith("best of"))
    assert line[header.index("fastokens")] == "40.0 (8.00x) inexact 1/3"
    # The inexact peer is not the one qtok is measured against: tiktoken is.
    assert line[header.index("qtok / best peer")] == "10.00x (tiktoken)"


def test_qtok_is_measured_against_the_best_exact_peer_run_by_run():
    runs = [
        {"tiktoken": child("tiktoken", whole=whole(5.0)), "qtok": child("qtok", whole=whole(60.0)),
         "gigatoken": child("gigatoken", whole=whole(40.0))},
        {"tiktoken": child("tiktoken", whole=whole(5.0)), "qtok": child("qtok", whole=whole(30.0)),
         "gigatoken": child("gigatoken", whole=whole(40.0))},
    ]
    assert compare.lead(runs, ["tiktoken", "qtok", "gigatoken"], row("whole"),
                        compare.exactness_all(runs)) == "0.75-1.50x (gigatoken)"
    # For times and memory lower is better: the ratio is the peer's over qtok's.
    for r in runs:
        r["gigatoken"].loads[0]["load_ms"] = 8.0          # qtok's: 10.0
    load = next(r for r in compare.rows(compare.QUICK) if r.label.startswith("load vocabulary"))
    assert compare.lead(runs, ["tiktoken", "qtok", "gigatoken"], load,
                        compare.exactness_all(runs)) == "0.80x (gigatoken)"


def test_unpinned_columns_are_labelled_and_not_counted_as_peers():
    runs = {
        "tiktoken": child("tiktoken", whole=whole(5.0)),
        "qtok": child("qtok", whole=whole(50.0)),
        "gigatoken": child("gigatoken", whole=whole(20.0)),
        "gigatoken" + compare.UNPINNED: child("gigatoken", whole=whole(90.0)),
    }
    header, body = compare.build_table([runs], compare.QUICK)
    assert "gigatoken unpinned" in header
    line = next(b for b in body if b[0].startswith("best of"))
    assert line[header.index("qtok / best peer")] == "2.50x (gigatoken)"


def test_a_difference_in_any_run_counts():
    exact = {"tiktoken": child("tiktoken", whole=whole(5.0)), "kitoken": child("kitoken", whole=whole(9.0))}
    wrong = {"tiktoken": child("tiktoken", whole=whole(5.0)),
             "kitoken": child("kitoken", whole=whole(9.0, "aaaaaaaabbbbbbbbXXXXXXXX", "e"))}
    checks = compare.exactness_all([exact, wrong])
    assert checks["kitoken"].corpus == ["whole"]
    assert checks["kitoken"].mismatches["whole"] == (1, 3)


def test_further_rounds_take_the_encoders_in_turn_and_keep_the_best(monkeypatch):
    """With first_runs = 3, every encoder's children run once, then twice more
    in rounds that take the encoders in turn (the pathological inputs only the
    first time); each corpus row keeps its fastest time over the rounds, and
    the ids checked are the first round's."""
    calls = []
    speed = {"first": iter([10.0, 30.0, 20.0]), "whole": iter([50.0, 40.0, 60.0]),
             "batch2": iter([7.0, 9.0, 8.0])}
    long_first = iter([5.0, 15.0, 10.0])
    long_warm = iter([99.0, 98.0, 97.0])

    def timed(task: str, mbps: float) -> dict:
        return {**whole(mbps, digest=f"{task} {mbps}"), "seconds": 1 / mbps}

    def fake_run_isolated(key, tasks, pin=False, **common):
        calls.append((key, tuple(tasks), pin))
        run = ChildRun(key)
        run.loads.append({"load_ms": 10.0, "import_ms": 1.0, "rss_after_mb": 50.0})
        if key != "qtok":
            return run
        for task in tasks:
            if task in speed:
                run.results[task] = timed(task, next(speed[task]))
            elif task == "long":
                warm = next(long_warm)
                run.results["long"] = {"first MB/s": next(long_first), "MB/s": warm,
                                       "seconds": 1 / warm, "digest": "l"}
        return run

    monkeypatch.setattr(compare, "run_isolated", fake_run_isolated)
    settings = compare.Settings(rounds=3, max_lines=None, load_runs=1, path_chars=10,
                                task_timeout=1.0, first_runs=3)
    runs = compare.measure_all(["tiktoken", "qtok"], settings, lambda msg: None)

    single = tuple(compare.SINGLE_THREAD_TASKS)
    corpus_single = tuple(t for t in single if not t.startswith("path:"))
    assert ("qtok", single, True) in calls
    order = [(key, tasks, pin) for key, tasks, pin in calls if tasks]
    assert order == [
        (key, tasks, pin)
        for round_ in range(3) for key in ("tiktoken", "qtok")
        for tasks, pin in [(single if round_ == 0 else corpus_single, True), (("long",), True),
                           (tuple(compare.BATCH_TASKS), False)]
    ]

    qtok = runs["qtok"].results
    assert qtok["first"]["MB/s"] == 30.0 and qtok["first"]["seconds"] == pytest.approx(1 / 30)
    assert qtok["whole"]["MB/s"] == 60.0
    assert qtok["batch2"]["MB/s"] == 9.0
    assert qtok["first"]["digest"] == "first 10.0"      # the first round's ids
    assert qtok["long"]["first MB/s"] == 15.0           # the fastest of 5, 15, 10
    assert qtok["long"]["MB/s"] == 99.0                 # the fastest of 99, 98, 97


def test_the_unpinned_column_is_timed_again_right_after_its_encoder(monkeypatch):
    calls = []

    def fake_run_isolated(key, tasks, pin=False, **common):
        calls.append((key, tuple(tasks), pin))
        return ChildRun(key)

    monkeypatch.setattr(compare, "run_isolated", fake_run_isolated)
    settings = compare.Settings(rounds=3, max_lines=None, load_runs=1, path_chars=10,
                                task_timeout=1.0, first_runs=2)
    runs = compare.measure_all(["tiktoken", "qtok"], settings, lambda msg: None,
                               unpinned_too=True)
    assert set(runs) == {"tiktoken", "qtok", "tiktoken" + compare.UNPINNED,
                         "qtok" + compare.UNPINNED}
    second_round = calls[len(calls) // 2:]
    assert [(key, pin) for key, tasks, pin in second_round] == [
        ("tiktoken", True), ("tiktoken", True), ("tiktoken", False),
        ("tiktoken", False), ("tiktoken", False),
        ("qtok", True), ("qtok", True), ("qtok", False), ("qtok", False), ("qtok", False),
    ]
    assert (("qtok", tuple(compare.UNPINNED_TASKS), False)) in second_round
