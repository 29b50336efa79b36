"""Corpora from tables: JSONL / JSON / CSV / TSV / Parquet files, through the
optional dependency ``datasets`` (which the hub loader uses too).
"""
from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Sequence

from ..arrow import TEXT_COLUMNS
from ..errors import CorpusError, first_line
from .corpus import Corpus, parallel_codes, sorted_documents
from .languages import find

__all__ = ["TABLE_FORMATS", "load_table_file", "corpus_from_table", "import_datasets"]

#: File extensions read through ``datasets``, and the builder each one uses.
TABLE_FORMATS = {".jsonl": "json", ".json": "json", ".ndjson": "json", ".csv": "csv",
                 ".tsv": "csv", ".parquet": "parquet"}
#: Column names tried, in order, when --lang-column is not given (the text
#: column's are qtok.arrow.TEXT_COLUMNS, which qtok count uses too).
LANG_COLUMNS = ("lang", "language", "code", "lang_code", "language_code", "locale")
#: A column that names the unit each row translates (FLORES+'s sentence "id"):
#: rows of two languages with the same value say the same thing.
KEY_COLUMNS = ("id",)


def import_datasets(quiet: bool = True):
    try:
        import datasets
    except ImportError:
        raise CorpusError("reading this corpus needs the `datasets` package: "
                          "pip install 'qtok[report]'") from None
    if quiet:
        # Its progress bars and "Failed to load JSON" log lines would repeat
        # what our one-line error already says.
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    return datasets


def root_cause(exc: BaseException) -> BaseException:
    """The first exception in the chain raised outside `datasets` (the parser's
    own message, e.g. pyarrow's "JSON parse error: ... in row 1")."""
    seen = set()
    while id(exc) not in seen and type(exc).__module__.startswith("datasets"):
        seen.add(id(exc))
        nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            break
        exc = nxt
    return exc


def load_table_file(path: str | os.PathLike, *, text_column: str | None = None,
                    lang_column: str | None = None, langs: Sequence[str] | None = None,
                    parallel: bool = False, num_proc: int | None = None,
                    progress: bool = False) -> Corpus:
    """A JSONL / JSON / CSV / TSV / Parquet file with a text and a language column.

    ``lang_column`` may name several columns joined by commas (FLORES+ style
    ``iso_639_3,iso_15924`` -> ``cmn_Hant``); without a language column the
    file must be in one language, given as ``langs=[code]``.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    fmt = TABLE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CorpusError(f"{path}: unknown file type {path.suffix!r}: use a folder of .txt or "
                          f"UDHR .xml files, or a {'/'.join(TABLE_FORMATS)} file")
    if path.stat().st_size == 0:
        raise CorpusError(f"{path}: the file is empty")
    datasets = import_datasets(quiet=not progress)
    kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
    if num_proc and num_proc > 1:
        kwargs["num_proc"] = num_proc
    # A throw-away cache: the columns are copied out below, and a local file
    # should not leave Arrow copies in the user's datasets cache.
    with tempfile.TemporaryDirectory(prefix="qtok-") as cache:
        try:
            ds = datasets.load_dataset(fmt, data_files=str(path), split="train", cache_dir=cache,
                                       **kwargs)
        except Exception as exc:  # datasets wraps parser errors in several layers
            cause = root_cause(exc)
            what = {"json": "JSON lines (one object per line)", "csv": "CSV with a header row",
                    "parquet": "Parquet"}[fmt]
            raise CorpusError(f"{path}: cannot read it as {what} ({first_line(cause)}): "
                              f"fix the file") from None
        return corpus_from_table(ds, path.name, str(path), text_column, lang_column, langs,
                                  parallel)


def _pick_column(columns: list[str], given: str | None, candidates: Sequence[str], what: str,
                 option: str, source: str) -> str | None:
    if given is not None:
        if given not in columns:
            raise CorpusError(f"{source}: no column {given!r} (columns: {', '.join(columns)}): "
                              f"pass the right one with {option}")
        return given
    return next((c for c in candidates if c in columns), None)


def table_columns(columns: list[str], source: str, text_column: str | None,
                  lang_column: str | None) -> tuple[str, list[str]]:
    """(the text column, the language columns) of a table with these columns."""
    text_col = _pick_column(columns, text_column, TEXT_COLUMNS, "text", "--text-column", source)
    if text_col is None:
        raise CorpusError(f"{source}: no text column among {', '.join(columns)}: "
                          f"say which with --text-column")
    if lang_column is not None:
        lang_cols = [c.strip() for c in lang_column.split(",") if c.strip()]
        for col in lang_cols:
            _pick_column(columns, col, (), "language", "--lang-column", source)
    elif "iso_639_3" in columns and "iso_15924" in columns:
        lang_cols = ["iso_639_3", "iso_15924"]   # FLORES+: "cmn" + "Hant" -> cmn_Hant
    else:
        found = _pick_column(columns, None, LANG_COLUMNS, "language", "--lang-column", source)
        lang_cols = [found] if found else []
    return text_col, lang_cols


def table_documents(columns: list[str], column, source: str, text_column: str | None,
                    lang_column: str | None, langs: Sequence[str] | None,
                    fixed_code: str | None = None,
                    keys_out: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """{code: documents} of a table: column(name) gives a column's values as
    a list.  Used on a whole file here, and on each batch by the Ray engine.
    With ``keys_out``, a table with a key column (KEY_COLUMNS) fills it with
    {code: each document's key}."""
    text_col, lang_cols = table_columns(columns, source, text_column, lang_column)
    texts = column(text_col)
    key_col = next((c for c in KEY_COLUMNS if c in columns and c not in lang_cols
                    and c != text_col), None)
    row_keys = column(key_col) if key_col is not None and keys_out is not None else None
    if lang_cols:
        values = ["_".join(str(v) for v in vals) for vals in zip(*(column(c) for c in lang_cols))]
    elif fixed_code is not None or (langs is not None and len(langs) == 1):
        values = [fixed_code or langs[0]] * len(texts)
    else:
        raise CorpusError(f"{source}: no language column among {', '.join(columns)}: say which "
                          f"with --lang-column, or give the one language with --langs")

    wanted = set(langs) if langs is not None else None
    code_of: dict[str, str | None] = {}
    unknown: dict[str, int] = {}
    docs: dict[str, list[str]] = {}
    for row, (text, value) in enumerate(zip(texts, values)):
        if value not in code_of:
            lang = find(value)
            code_of[value] = lang.code if lang else None
        code = code_of[value]
        if code is None:
            unknown[value] = unknown.get(value, 0) + 1
            continue
        if wanted is not None and code not in wanted:
            continue
        if text is None:
            continue
        text = text if isinstance(text, str) else str(text)
        if text.strip():
            docs.setdefault(code, []).append(text)
            if row_keys is not None:
                keys_out.setdefault(code, []).append(str(row_keys[row]))
    if unknown and wanted is None:
        sample = ", ".join(f"{v!r}" for v in list(unknown)[:5])
        raise CorpusError(f"{source}: unknown language {sample} in column "
                          f"{'+'.join(lang_cols)}: pass --langs to keep only known languages "
                          f"(codes in languages.tsv)")
    return docs


def corpus_from_table(ds, name: str, source: str, text_column: str | None,
                       lang_column: str | None, langs: Sequence[str] | None, parallel: bool,
                       fixed_code: str | None = None) -> Corpus:
    # The Arrow column to a list in one call: ds[c] of datasets >= 4 is a lazy
    # column whose iteration formats one row at a time, several times slower
    # than the measurement itself.
    arrow_ds = ds.with_format("arrow")     # respects a selection's indices, unlike ds.data
    keys: dict[str, list[str]] = {}
    docs = table_documents(list(ds.column_names), lambda c: arrow_ds[c].to_pylist(),
                           source, text_column, lang_column, langs, fixed_code, keys)
    if not docs and langs is None:
        raise CorpusError(f"{source}: no documents: check the columns")
    # With --langs, a file (one shard of many, say) may hold none of them:
    # whether the pooled corpus has each language is checked once, after pooling.
    docs = sorted_documents(docs)
    # Rows are aligned only by a key column: their order says nothing.
    return Corpus(name, docs, parallel_codes(docs) if parallel else frozenset(), keys,
                  by_position=False)
