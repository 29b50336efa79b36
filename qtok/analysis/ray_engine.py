"""The compression report on a Ray cluster: ``qtok report --engine ray``.

The report is a ratio of sums (qtok.analysis.metrics.Sums), so it splits
over any number of machines: Ray Data reads the Parquet / JSONL files
(``ray.data.read_parquet`` / ``read_json``, over files, folders or globs),
``map_batches`` hands each worker a batch as a pyarrow table, the worker
turns it into documents per language with the same rules as the local
loader (qtok.analysis.tables.table_documents) and measures them with the
same function (metrics.measure_documents), and the driver adds the partial
sums up as they arrive.  Every number equals the local engine's on the same
files.

Batches are Ray tasks of one CPU each (encoding on one thread), as many at
once as the cluster has CPUs, or ``num_workers``; each worker process
builds the tokenizers once.  The cluster is the one at ``address`` (or
``RAY_ADDRESS``), else a local one started here.
"""
from __future__ import annotations

import functools
import glob
import os
from typing import Sequence

from ..errors import CorpusError, MissingDependency, first_line
from .languages import ENGLISH, order

__all__ = ["ray_report", "expand_paths"]

#: Rows per batch handed to a worker: big enough to keep the native encoder
#: busy, small enough to spread a single Parquet file over the workers.
BATCH_ROWS = 4096


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise MissingDependency("--engine ray needs Ray Data: pip install 'qtok[ray]'") from None
    return ray


def expand_paths(paths: Sequence[str]) -> dict[str, list[str]]:
    """{"parquet": [...], "json": [...]}: the files named by paths (files,
    folders of such files, globs), each checked to be readable here."""
    found: dict[str, list[str]] = {"parquet": [], "json": []}
    for spec in paths:
        matches = sorted(glob.glob(spec)) if glob.has_magic(spec) else [spec]
        if not matches:
            raise CorpusError(f"{spec}: no file matches")
        for path in matches:
            if os.path.isdir(path):
                inside = sorted(os.path.join(path, f) for f in os.listdir(path)
                                if _kind(f) is not None)
                if not inside:
                    raise CorpusError(f"{path}: no .parquet or .jsonl files in the folder")
                matches += inside
                continue
            kind = _kind(path)
            if kind is None:
                raise CorpusError(f"{path}: --engine ray reads .parquet and .jsonl files")
            if not os.path.isfile(path):
                raise CorpusError(f"{path}: no such file")
            if not os.access(path, os.R_OK):
                raise CorpusError(f"{path}: cannot be read (permission denied)")
            found[kind].append(os.path.abspath(path))
    if not found["parquet"] and not found["json"]:
        raise CorpusError("--engine ray: no files given (pass --corpus FILES)")
    return found


def _kind(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(".parquet"):
        return "parquet"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "json"
    return None


@functools.lru_cache(maxsize=4)
def _worker_backends(specs: tuple, include_qwen: bool):
    """The tokenizers and their fragment tables, built once per worker process."""
    from .backends import resolve_all
    from .metrics import fragment_tables
    backends = resolve_all(list(specs), include_qwen=include_qwen)
    return backends, fragment_tables(backends)


def _batch_sums(batch, specs, include_qwen, text_column, lang_column, langs, deflate=False):
    """A Ray Data task: a batch (a pyarrow table) in, its sums out, as one
    row of JSON (and the batch's rows and text bytes, for the progress bar)."""
    import json
    import pyarrow as pa
    from .metrics import measure_documents
    from .tables import table_columns, table_documents
    backends, tables = _worker_backends(specs, include_qwen)
    columns = batch.column_names
    keys: dict[str, list[str]] = {}     # filled when the table has an id column
    docs = table_documents(columns, lambda c: batch[c].to_pylist(), "a batch", text_column,
                           lang_column, langs, keys_out=keys)
    sums = measure_documents(docs, backends, num_threads=1, tables=tables, deflate=deflate,
                             keys=keys)
    text_col, _ = table_columns(columns, "a batch", text_column, lang_column)
    return pa.table({"sums": [json.dumps(sums.to_json())], "rows": [batch.num_rows],
                     "bytes": [batch[text_col].nbytes]})


def _user_error(exc: BaseException) -> BaseException:
    """The error a Ray failure comes from: the worker's own exception (a
    CorpusError, pyarrow's parse error...) inside Ray's wrappers."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (CorpusError, MissingDependency)):
            return exc
        inner = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
        if inner is None or inner is exc:
            break
        exc = inner
    return exc


def _one_line(exc: BaseException) -> Exception:
    """The user's error for a failure of the pipeline: the worker's own
    CorpusError, or one line naming what failed."""
    cause = _user_error(exc)
    if isinstance(cause, (CorpusError, MissingDependency)):
        return cause
    # Ray passes a worker's exception on as text inside its traceback.
    for line in str(exc).splitlines():
        if "CorpusError: " in line:
            return CorpusError(line.split("CorpusError: ", 1)[1].strip())
    return CorpusError(f"the Ray job failed: {type(cause).__name__}: {first_line(cause)}")


def _pipeline(ray, files, specs, include_qwen, text_column, lang_column, langs, num_workers,
              deflate=False):
    """The Ray Data pipeline: the files read, each batch mapped to its sums."""
    parts = []
    if files["parquet"]:
        parts.append(ray.data.read_parquet(files["parquet"]))
    if files["json"]:
        parts.append(ray.data.read_json(files["json"], lines=True))
    # Tasks, not actors: an actor holds its CPU even while it waits for
    # input, and actors on every CPU would leave none for the reads.
    # Each worker process builds the tokenizers once (_worker_backends).
    # Each source is mapped on its own (Parquet and JSON reads make blocks
    # of different kinds), and the sums of both are pooled.
    options = {"concurrency": num_workers} if num_workers else {}
    mapped = [part.map_batches(
        _batch_sums, batch_format="pyarrow", batch_size=BATCH_ROWS, num_cpus=1,
        fn_kwargs=dict(specs=tuple(specs), include_qwen=include_qwen, text_column=text_column,
                       lang_column=lang_column, langs=list(langs) if langs else None,
                       deflate=deflate),
        **options) for part in parts]
    sums_ds = mapped[0] if len(mapped) == 1 else mapped[0].union(*mapped[1:])
    return sums_ds


def ray_report(paths: Sequence[str], backends, *, include_qwen: bool, specs: Sequence[str],
               langs: Sequence[str] | None = None, report_langs: Sequence[str] | None = None,
               text_column: str | None = None,
               lang_column: str | None = None, parallel: bool = False,
               address: str | None = None, num_workers: int | None = None,
               progress: bool | None = None, renyi_alpha: float | None = None,
               deflate: bool = False) -> list[dict]:
    """The report's rows for the files at paths, measured on Ray."""
    from .metrics import RENYI_ALPHA, Progress, Sums, check_alpha, rows_from_sums, vocabulary_size
    alpha = check_alpha(RENYI_ALPHA if renyi_alpha is None else renyi_alpha)
    files = expand_paths(paths)
    ray = import_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, log_to_driver=False, include_dashboard=False,
                     logging_level="ERROR", configure_logging=True)
        except Exception as exc:
            where = address or "a local cluster"
            raise CorpusError(f"cannot start Ray on {where}: {first_line(exc)}") from None
    import logging
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)   # qtok's own bar says how far it is
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        try:
            sums_ds = _pipeline(ray, files, specs, include_qwen, text_column, lang_column,
                                langs, num_workers, deflate)
        except Exception as exc:
            raise _one_line(exc) from None
        total = sum(os.path.getsize(p) for kind in files.values() for p in kind)
        bar = Progress(total, progress, what="tokenizing on Ray")
        sums = Sums.empty()
        import json
        try:
            for batch in sums_ds.iter_batches(batch_format="pyarrow", batch_size=None):
                for blob, rows, n_bytes in zip(batch["sums"].to_pylist(), batch["rows"].to_pylist(),
                                               batch["bytes"].to_pylist()):
                    sums.merge(Sums.from_json(json.loads(blob)))
                    bar.update(n_bytes, rows)
        except Exception as exc:
            raise _one_line(exc) from None
        finally:
            bar.close()
    finally:
        if started_here:
            ray.shutdown()

    if not sums.languages:
        raise CorpusError("no documents" + (f" in {', '.join(langs)}" if langs else "")
                          + ": check the columns and --langs")
    codes = list(order(report_langs)) if report_langs else list(order(sums.languages))
    missing = [c for c in codes if c not in sums.languages]
    if missing:
        raise CorpusError(f"no documents in {', '.join(missing)}; the files have "
                          f"{', '.join(order(sums.languages))}")
    parallel_codes = frozenset(sums.languages) if parallel and ENGLISH in sums.languages else frozenset()
    return rows_from_sums(sums, [b.name for b in backends], codes, parallel_codes,
                          vocab_sizes={b.name: vocabulary_size(b) for b in backends},
                          renyi_alpha=alpha)
