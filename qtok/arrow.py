"""Arrow string columns in, Arrow arrays out: tokenizing a dataset's column
without a Python object per row.

``Encoding.encode_ordinary_arrow(column)`` and the other ``*_arrow`` methods
take any object that exports the Arrow PyCapsule interface
(``__arrow_c_stream__`` or ``__arrow_c_array__``): a pyarrow ``Array`` or
``ChunkedArray`` of ``string``, ``large_string`` or ``string_view``, a polars
``Series``, a DuckDB relation's column, a ``datasets`` batch column in arrow
format.  The native core reads the UTF-8 buffers where they are
(qtok/native/arrow_rows.pxi), checks NFC on them, and encodes on native
threads without the GIL (qtok/native/arrow_job.pxi).  The ids come back as
one flat ``uint32`` buffer and its offsets, wrapped as a pyarrow
``ListArray`` (``LargeListArray`` past 2**31 - 1 ids, or when asked) without
a copy; counts as a pyarrow ``Int64Array``.  Nulls stay null.

Reading needs nothing but qtok; building the result needs pyarrow (which
``datasets`` brings).  Rows the native path does not decide alone -- one
that may spell a special token, one the NFC check does not pass, one that
is not valid UTF-8 -- go through the ``str`` methods, so every row's ids
equal ``encode_ordinary(row)`` (or ``encode(row, ...)``) exactly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ._bpe import ArrowRows
from .errors import MissingDependency

if TYPE_CHECKING:                   # pragma: no cover
    from .core import Encoding

__all__ = ["column_rows", "encode_column", "count_column", "TABLE_SUFFIXES", "text_batches"]

#: Files whose text column qtok reads straight into Arrow (``qtok count``).
TABLE_SUFFIXES = {".parquet": "parquet", ".jsonl": "json", ".ndjson": "json"}
#: Column names tried, in order, when no text column is named.
TEXT_COLUMNS = ("text", "sentence", "content", "document")
#: Rows per batch read from a file: a few MB of text, so memory stays bounded
#: and the native threads still get whole units of work.
FILE_BATCH_ROWS = 1 << 14


def column_rows(column) -> ArrowRows:
    """The rows of an Arrow string column, read in place (no copy, no str)."""
    if isinstance(column, ArrowRows):
        return column
    if hasattr(column, "__arrow_c_stream__"):
        return ArrowRows.from_stream(column.__arrow_c_stream__())
    if hasattr(column, "__arrow_c_array__"):
        return ArrowRows.from_array(*column.__arrow_c_array__())
    kind = type(column).__name__
    hint = (" (for a list of str, use encode_ordinary_batch)" if isinstance(column, (list, tuple))
            else "")
    raise TypeError(f"expected an Arrow string column (pyarrow, polars, DuckDB, ...: an object "
                    f"with __arrow_c_stream__ or __arrow_c_array__), got {kind}{hint}")


def _pyarrow():
    try:
        import pyarrow
    except ImportError:
        raise MissingDependency("the *_arrow methods return pyarrow arrays: "
                                "pip install pyarrow (datasets brings it)") from None
    return pyarrow


def _special_first_bytes(enc: "Encoding") -> bytes | None:
    """256 flags: 1 for each byte a special token of enc starts with."""
    flags = bytearray(256)
    for token in enc._special_tokens:
        data = token.encode("utf-8")
        if data:
            flags[data[0]] = 1
    return bytes(flags) if any(flags) else None


def _row_text(row: int, utf8: bytes) -> str:
    try:
        return utf8.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"row {row} of the column is not valid UTF-8 ({e.reason} at byte "
                         f"{e.start}); clean the column or decode it with errors='replace' first") \
            from None


def _fallback(enc: "Encoding", encode: Callable[[str], object]):
    """What encodes a row the native path deferred: decoded (strictly), then
    through the str method; an error names the row."""
    def run(row: int, utf8: bytes):
        text = _row_text(row, utf8)
        try:
            return encode(text)
        except ValueError as e:
            raise type(e)(f"row {row} of the column: {e}") from None
    return run


def _plan(enc: "Encoding", specials, count: bool):
    """(special_first, fallback) for the native pass.  specials is None for
    the ordinary methods, else (allowed_special, disallowed_special)."""
    if specials is None:
        method = enc.count_ordinary if count else enc.encode_ordinary
        return None, _fallback(enc, method)
    allowed, disallowed = specials
    enc._check_special("", allowed, disallowed)       # argument errors before any work
    method = enc.count if count else enc.encode
    return _special_first_bytes(enc), _fallback(
        enc, lambda text: method(text, allowed_special=allowed, disallowed_special=disallowed))


def encode_column(enc: "Encoding", column, *, num_threads: int, specials=None,
                  large_list: bool = False):
    """The ids of every row of column, as a pyarrow ListArray of uint32."""
    pa = _pyarrow()
    rows = column_rows(column)
    special_first, fallback = _plan(enc, specials, count=False)
    offsets, values, validity, large = enc._core.encode_rows(
        rows, num_threads, False, enc._normalize is not None, special_first, fallback,
        large_list)
    ids = pa.Array.from_buffers(pa.uint32(), len(values) // 4, [None, pa.py_buffer(values)])
    list_type = pa.large_list(pa.uint32()) if large else pa.list_(pa.uint32())
    return pa.Array.from_buffers(list_type, rows.n_rows,
                                 [pa.py_buffer(validity) if validity is not None else None,
                                  pa.py_buffer(offsets)],
                                 null_count=rows.n_nulls, children=[ids])


def count_column(enc: "Encoding", column, *, num_threads: int, specials=None):
    """The number of ids of every row of column, as a pyarrow Int64Array."""
    pa = _pyarrow()
    rows = column_rows(column)
    special_first, fallback = _plan(enc, specials, count=True)
    counts, validity = enc._core.encode_rows(
        rows, num_threads, True, enc._normalize is not None, special_first, fallback)
    return pa.Array.from_buffers(pa.int64(), rows.n_rows,
                                 [pa.py_buffer(validity) if validity is not None else None,
                                  pa.py_buffer(counts)],
                                 null_count=rows.n_nulls)


def _text_column(names: list[str], given: str | None, source: str) -> str:
    if given is not None:
        if given not in names:
            raise ValueError(f"{source}: no column {given!r} (columns: {', '.join(names)})")
        return given
    for name in TEXT_COLUMNS:
        if name in names:
            return name
    raise ValueError(f"{source}: no text column among {', '.join(names)}: name it")


def text_batches(path: str, text_column: str | None = None):
    """The text column of a Parquet or JSON-lines file as pyarrow arrays, a
    batch at a time (memory bounded by a batch, not the file).  Raises
    ValueError with a one-line reason for a file that cannot be read."""
    import os
    pa = _pyarrow()
    kind = TABLE_SUFFIXES.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise ValueError(f"{path}: not a {'/'.join(TABLE_SUFFIXES)} file")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq
            reader = pq.ParquetFile(path)
            column = _text_column(reader.schema_arrow.names, text_column, path)
            batches = reader.iter_batches(batch_size=FILE_BATCH_ROWS, columns=[column])
        else:
            import pyarrow.json as pj
            if hasattr(pj, "open_json"):        # streaming reader (pyarrow >= 18)
                reader = pj.open_json(path)
                column = _text_column(reader.schema.names, text_column, path)
                batches = reader
            else:                               # pragma: no cover - older pyarrow
                table = pj.read_json(path)
                column = _text_column(table.column_names, text_column, path)
                batches = table.to_batches(FILE_BATCH_ROWS)
        for batch in batches:
            yield batch.column(batch.schema.get_field_index(column))
    except (pa.ArrowException, OSError) as e:
        what = "Parquet" if kind == "parquet" else "JSON lines (one object per line)"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: cannot read it as {what} ({reason})") from None
