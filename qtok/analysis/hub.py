"""Hugging Face hub access for the analyser: whether the hub can be reached,
reading only the local cache when it cannot, and hub datasets as corpora.

Every call here is quick to fail: a TCP probe first, since `datasets` and
`huggingface_hub` otherwise retry for ~25 s before giving up offline.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import re
import socket
from typing import Sequence

from ..errors import CorpusError, first_line
from .corpus import Corpus, merge
from .languages import find
from .tables import corpus_from_table, import_datasets

__all__ = ["hub_reachable", "hub_offline", "hub_cache_only", "load_hub_dataset"]


def hub_host() -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return re.sub(r"^[a-z]+://", "", endpoint).split("/")[0].split(":")[0]


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe: without it, `datasets` retries for ~25 s before failing."""
    try:
        with socket.create_connection((hub_host(), 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


@contextlib.contextmanager
def hub_cache_only(offline: bool):
    """While active (if ``offline``), huggingface_hub and datasets read only
    their local cache instead of retrying the network.  Both libraries look
    these flags up at call time, so patching them works after import too;
    they are restored afterwards so a Python session is left as it was."""
    if not offline:
        yield
        return
    patched = []
    for name in ("huggingface_hub.constants", "datasets.config"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "HF_HUB_OFFLINE"):
            patched.append((module, module.HF_HUB_OFFLINE))
            module.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        for module, value in patched:
            module.HF_HUB_OFFLINE = value


def load_hub_dataset(dataset_id: str, *, config: str | None = None, split: str | None = None,
                     text_column: str | None = None, lang_column: str | None = None,
                     langs: Sequence[str] | None = None, parallel: bool = False,
                     num_proc: int | None = None, progress: bool = False) -> Corpus:
    """A Hugging Face hub dataset (or one in the local cache when offline).

    ``config`` may list several configurations separated by commas; when the
    dataset has no language column, each configuration's name is its language
    (FLORES+ style ``eng_Latn,fra_Latn``).
    """
    datasets = import_datasets(quiet=not progress)
    offline = hub_offline() or not hub_reachable()
    configs = [c.strip() for c in config.split(",") if c.strip()] if config else [None]
    parts: list[Corpus] = []
    for cfg in configs:
        kwargs = {"num_proc": num_proc} if num_proc and num_proc > 1 else {}
        label = dataset_id + (f" ({cfg})" if cfg else "")
        try:
            with hub_cache_only(offline):
                ds = datasets.load_dataset(dataset_id, cfg, split=split, **kwargs)
        except Exception as exc:
            raise CorpusError(_hub_error(label, exc, offline)) from None
        if isinstance(ds, dict):   # a DatasetDict: no split given
            if len(ds) != 1:
                raise CorpusError(f"{label} has the splits {', '.join(ds)}: choose one with --split")
            ds = next(iter(ds.values()))
        fixed = None
        if cfg is not None and lang_column is None and find(cfg):
            fixed = find(cfg).code
        parts.append(corpus_from_table(ds, dataset_id, label, text_column, lang_column, langs,
                                        parallel, fixed_code=fixed))
    return merge(parts, name=dataset_id) if len(parts) > 1 else parts[0]


def _hub_error(label: str, exc: Exception, offline: bool) -> str:
    if offline:
        return (f"cannot load {label}: the Hugging Face hub is not reachable and the dataset is "
                f"not in the local cache; connect to the internet (or download it once while "
                f"online), or pass a local file with --corpus")
    return (f"cannot load {label} from the Hugging Face hub ({first_line(exc)}): check the id, "
            f"--config and --split")
