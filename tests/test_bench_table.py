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
