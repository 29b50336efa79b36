"""Pathological inputs: 1M characters each (see references.PATHOLOGICAL).

These are where a regex pre-tokenizer or a naive merge loop goes quadratic or
overflows its stack.  Each encoder runs each input once (``rounds=1``, no
warm-up): the first time it meets that input, so no cache of pieces helps,
which is how such input arrives in practice.

tiktoken overflows its stack on some of them (1M spaces).  It is never run
here on an input before a child process has shown it survives it, under a
stack half the usual size for margin; the inputs it crashes on are skipped
here and reported as "crash" by compare.py.

The ids must equal the HF reference's (and tiktoken's, where it survives).
"""
from __future__ import annotations

from typing import Callable

import pytest

from encoders import SIDE_BY_SIDE
import references as ref
from worker import run_isolated

_inputs: dict[str, str] = {}
_expected: dict[str, list[int]] = {}


def pathological(name: str) -> str:
    if name not in _inputs:
        _inputs[name] = ref.pathological_input(name)
    return _inputs[name]


@pytest.fixture(scope="session")
def tiktoken_survives() -> dict[str, str]:
    """name -> "" when tiktoken survives that input, else why not, probed in
    child processes with a 4 MiB stack (half the usual 8 MiB)."""
    run = run_isolated("tiktoken", [f"path:{n}" for n in ref.PATHOLOGICAL], rounds=1,
                       stack_bytes=4 << 20)
    if run.unavailable:
        pytest.skip(run.unavailable)
    return {task[5:]: (f"{r['failed']}: {r['detail']}" if "failed" in r else "")
            for task, r in run.results.items()}


@pytest.fixture(scope="session")
def expected(load_encoder) -> Callable[[str], list[int]]:
    """name -> the HF reference's ids for that input, computed once."""
    def get(name: str) -> list[int]:
        if name not in _expected:
            _expected[name] = load_encoder("hf").encode(pathological(name))
        return _expected[name]
    return get


@pytest.mark.parametrize("key", SIDE_BY_SIDE)
@pytest.mark.parametrize("name", list(ref.PATHOLOGICAL))
def test_pathological(measure, load_encoder, expected, tiktoken_survives, key, name):
    if key == "tiktoken" and tiktoken_survives.get(name) != "":
        pytest.skip(f"tiktoken does not survive {name!r} "
                    f"({tiktoken_survives.get(name, 'not probed')}); see compare.py")
    enc = load_encoder(key)
    text = pathological(name)
    ids = measure(lambda: enc.encode(text), ref.utf8_len(text), group=f"1M chars: {name}",
                  encoder=key, rounds=1, warmup_rounds=0)
    if key == "hf":
        _expected.setdefault(name, ids)     # the reference itself: no second run needed
    assert ids == expected(name)
