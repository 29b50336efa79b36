"""How many native threads qtok gives one long text.

``encode``, ``encode_ordinary``, ``count`` and ``encode_to_numpy`` of a text
of 64 KiB or more (UTF-8) cut it at places where the pieces provably do not
depend on each other (after a letter that a non-letter follows; see
``qtok/native/long_text.pxi``) and encode the parts on native threads; the
ids are the same as on one thread.

The default is what a library user expects from ``encode(big_text)``: every
core this process may run on (``os.sched_getaffinity``), unless the
environment variable ``QTOK_NUM_THREADS`` says otherwise when this module
loads (with the first encoding: ``qtok.core`` loads it), or
``set_num_threads(n)`` later.  ``1`` keeps every text on the calling thread.
Batches (``encode_batch``, the Arrow methods) have their own ``num_threads``
and never split a text a second time, so they do not oversubscribe.
"""
from __future__ import annotations

import os
import warnings

from . import _bpe

__all__ = ["get_num_threads", "set_num_threads", "ENV_VAR"]

ENV_VAR = "QTOK_NUM_THREADS"


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def set_num_threads(n: int) -> None:
    """Use n native threads (n >= 1) for each long text."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"the number of threads must be an int, not {type(n).__name__}")
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    _bpe.set_text_threads(min(n, 1024))


def get_num_threads() -> int:
    """The native threads each long text is encoded on."""
    return _bpe.get_text_threads()


def _default() -> int:
    text = os.environ.get(ENV_VAR)
    if text is None or not text.strip():
        return _cores()
    try:
        value = int(text)
        if value < 1:
            raise ValueError
    except ValueError:
        warnings.warn(f"{ENV_VAR}={text!r} is not a whole number >= 1; using one thread per core "
                      f"({_cores()})", RuntimeWarning, stacklevel=3)
        return _cores()
    return value


set_num_threads(_default())
