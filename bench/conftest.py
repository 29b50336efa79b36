"""Fixtures for the pytest-benchmark suites in bench/.

    pytest bench/ --benchmark-only

Every benchmark is in a group (``benchmark.group``) so that qtok, tiktoken and
HF tokenizers doing the same work sit side by side in pytest-benchmark's
table, and records ``benchmark.extra_info["MB/s"]``: bytes of UTF-8 processed
(decode: produced) divided by the best round's time, 1 MB = 10**6 bytes.
pytest-benchmark's own table shows times only, so a summary of MB/s, with the
ratio to tiktoken in the same group, is printed at the end of the session.

The expensive things (the corpus, tiktoken's and HF's tokenizers, reference
ids) are built once per session.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import references as ref  # noqa: E402
from encoders import ADAPTERS, Loaded, Unavailable  # noqa: E402

BASELINE = "tiktoken"


# -- the MB/s summary --------------------------------------------------------------

@dataclass
class Entry:
    group: str
    encoder: str
    variant: str        # e.g. "2 threads": compared with tiktoken's entry of the same variant
    value: float
    unit: str
    note: str = ""      # e.g. "ids differ on 1 of 25 files"


_SUMMARY: list[Entry] = []


def record(group: str, encoder: str, value: float, unit: str = "MB/s", variant: str = "",
           note: str = "") -> None:
    _SUMMARY.append(Entry(group, encoder, variant, value, unit, note))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _SUMMARY:
        return
    tr = terminalreporter
    tr.section("qtok benchmarks: MB/s, load ms, RSS MB (ratio = value / tiktoken's, same group)")
    by_group: dict[str, list[Entry]] = defaultdict(list)
    for e in _SUMMARY:
        by_group[e.group].append(e)
    for group in sorted(by_group):
        tr.write_line(group)
        entries = by_group[group]
        base = {(e.variant, e.unit): e.value for e in entries if e.encoder == BASELINE}
        for e in entries:
            label = ADAPTERS[e.encoder].label + (f", {e.variant}" if e.variant else "")
            b = base.get((e.variant, e.unit))
            ratio = f"  ({e.value / b:.2f}x)" if b and e.encoder != BASELINE else ""
            note = f"  {e.note}" if e.note else ""
            tr.write_line(f"    {label:<28} {e.value:10.1f} {e.unit}{ratio}{note}")


@pytest.fixture
def summary() -> Callable[..., None]:
    """``summary(group, encoder, value, unit, variant)``: add a line to the end-of-session summary."""
    return record


@pytest.fixture
def measure(benchmark) -> Callable[..., Any]:
    """``measure(fn, nbytes, group=, encoder=)``: time ``fn`` with
    pytest-benchmark's pedantic mode (fixed rounds keep the suite short), set
    MB/s from the best round, and return fn's result for checking."""
    def run(fn: Callable[..., Any], nbytes: int, *, group: str, encoder: str,
            rounds: int | None = None, warmup_rounds: int = 1, variant: str = "",
            expected: list | None = None, what: str = "items",
            setup: Callable[[], tuple] | None = None) -> Any:
        """With ``expected``: qtok and the references must return it (the test
        fails otherwise); a peer that differs is recorded with how many of
        its results differ.  With ``setup``: called before every round, out
        of the timing, and fn is called with the arguments it returns."""
        benchmark.group = group
        if rounds is None:
            rounds = rounds_for(encoder)
        arguments = None if setup is None else (lambda: (setup(), {}))
        result = benchmark.pedantic(fn, setup=arguments, rounds=rounds, iterations=1,
                                    warmup_rounds=warmup_rounds)
        note = ""
        if expected is not None:
            differ = sum((got if isinstance(got, int) else list(map(int, got))) != want
                         for got, want in zip(result, expected))
            differ += abs(len(result) - len(expected))
            if ADAPTERS[encoder].required:
                assert differ == 0, f"{encoder}: ids differ from tiktoken's on {differ} {what}"
            elif differ:
                note = f"ids differ on {differ:,} of {len(expected):,} {what}"
                benchmark.extra_info["mismatches"] = differ
        if benchmark.stats is not None:        # None under --benchmark-disable
            mbps = nbytes / benchmark.stats.stats.min / 1e6
            benchmark.extra_info["MB/s"] = round(mbps, 2)
            benchmark.extra_info["bytes"] = nbytes
            record(group, encoder, mbps, variant=variant, note=note)
        return result
    return run


def rounds_for(encoder: str, fast: int = 5, slow: int = 2) -> int:
    """HF tokenizers is ~10x slower than the rest: fewer rounds keep the suite
    under five minutes without making the fast encoders' figures noisy."""
    return slow if encoder == "hf" else fast


# -- encoders ------------------------------------------------------------------------

_loaded: dict[str, Loaded] = {}


@pytest.fixture(scope="session")
def load_encoder() -> Callable[[str], Loaded]:
    """key -> the encoder, loaded once per session; skips when it can't load."""
    def get(key: str) -> Loaded:
        if key not in _loaded:
            try:
                _loaded[key] = ADAPTERS[key].load()
            except Unavailable as e:
                pytest.skip(str(e))
        return _loaded[key]
    return get


@pytest.fixture(scope="session")
def oracle(load_encoder) -> Loaded:
    return load_encoder(BASELINE)


# -- data --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def corpus() -> dict[str, str]:
    texts = ref.load_corpus()
    if not texts:
        pytest.skip("no corpus: no *.txt in $QTOK_TEST_CORPORA/leipzig, corpora/ "
                    "(or $QTOK_BENCH_CORPUS when set)")
    return texts


@pytest.fixture(scope="session")
def files(corpus) -> list[str]:
    return list(corpus.values())


@pytest.fixture(scope="session")
def lines(corpus) -> list[str]:
    return ref.corpus_lines(corpus)


@pytest.fixture(scope="session")
def docs(corpus) -> list[str]:
    return ref.batch_documents(corpus)


@pytest.fixture(scope="session")
def corpus_bytes(files) -> int:
    return ref.utf8_len(files)


@pytest.fixture(scope="session")
def expected_files(oracle, files) -> list[list[int]]:
    """tiktoken's ids for each whole file: what every encoder must return."""
    return [oracle.encode(t) for t in files]


@pytest.fixture(scope="session")
def expected_lines(oracle, lines) -> list[list[int]]:
    return [oracle.encode(t) for t in lines]


@pytest.fixture(scope="session")
def expected_docs(oracle, docs) -> list[list[int]]:
    return [oracle.encode(t) for t in docs]
