"""Arrow columns in, Arrow arrays out: the *_arrow methods against the str ones.

Every row's ids must equal ``encode_ordinary(row)`` (``encode(row, ...)``
for encode_arrow), whatever the column's layout: utf8, large_utf8 and
utf8_view, sliced (offsets that do not start at 0), chunked, with nulls and
empty strings; and a column that is not strings, or whose buffers are
damaged, must be a clear error.
"""
from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtok
from corpus_files import BUNDLED_FILES, LEIPZIG_FILES, UDHR_FILES, file_params, read_lines, synthetic_texts

pa = pytest.importorskip("pyarrow")

LAYOUTS = [pa.string(), pa.large_string(), pa.string_view()]


def expected(enc, rows, method="encode_ordinary", **kwargs):
    return [None if t is None else getattr(enc, method)(t, **kwargs) for t in rows]


@pytest.mark.parametrize("path", file_params(BUNDLED_FILES + LEIPZIG_FILES + UDHR_FILES, "no corpus"))
def test_every_corpus_line(qwen_enc, path):
    lines = read_lines(path)
    want = expected(qwen_enc, lines)
    column = pa.array(lines, type=pa.large_string())
    got = qwen_enc.encode_ordinary_arrow(column, num_threads=2)
    assert got.type == pa.list_(pa.uint32())
    assert got.to_pylist() == want
    assert qwen_enc.count_ordinary_arrow(column).to_pylist() == [len(ids) for ids in want]


MIXED = ["hello world", None, "", "caf\u00e9", "cafe\u0301", "e\u0301", "\u09c7\u09be",
         "a\u0302\u0323", "\u1100\u1161\u11a8", "<|endoftext|> x", "x <|im_start|>", "<", "<|",
         " " * 40 + "\n\n", "\U0001F600 emoji", None, "\u0d3c\u0301", "a\u0d3c\u0301"]


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_layouts_nulls_and_slices(qwen_enc, layout):
    column = pa.array(MIXED * 3, type=layout)
    for start in (0, 1, 5, 17):
        part = column.slice(start, len(column) - start - 2)
        got = qwen_enc.encode_ordinary_arrow(part)
        assert got.to_pylist() == expected(qwen_enc, part.to_pylist())
        assert got.null_count == part.null_count
        assert qwen_enc.count_ordinary_arrow(part).to_pylist() == [
            None if t is None else len(qwen_enc.encode_ordinary(t)) for t in part.to_pylist()]


def test_chunked_arrays(qwen_enc):
    chunks = [pa.array(MIXED[:5]), pa.array([], type=pa.string()), pa.array(MIXED[5:]).slice(2)]
    column = pa.chunked_array(chunks)
    want = expected(qwen_enc, column.to_pylist())
    got = qwen_enc.encode_ordinary_arrow(column)
    assert isinstance(got, pa.ListArray) and got.to_pylist() == want
    assert qwen_enc.encode_ordinary_arrow(pa.chunked_array([], type=pa.string())).to_pylist() == []


def test_special_token_arguments(qwen_enc):
    column = pa.array(MIXED)
    with pytest.raises(ValueError, match="row 9 of the column: Encountered text corresponding to disallowed"):
        qwen_enc.encode_arrow(column)
    with pytest.raises(ValueError, match="row 9"):
        qwen_enc.count_arrow(column)
    for kwargs in [dict(allowed_special="all"), dict(disallowed_special=()),
                   dict(allowed_special={"<|endoftext|>"}, disallowed_special=()),
                   dict(allowed_special="all", disallowed_special=())]:
        want = expected(qwen_enc, MIXED, "encode", **kwargs)
        assert qwen_enc.encode_arrow(column, **kwargs).to_pylist() == want
        assert qwen_enc.count_arrow(column, **kwargs).to_pylist() == [
            None if ids is None else len(ids) for ids in want]
    with pytest.raises(TypeError, match="allowed_special"):
        qwen_enc.encode_arrow(column, allowed_special=["<|endoftext|>"])


@pytest.mark.parametrize("name", ["qwen1", "qwen2.5", "qwen3"])
def test_generations(name):
    enc = qtok.get_encoding(name)
    column = pa.array(MIXED + ["<think> a </think>", "<|extra_3|>"])
    assert enc.encode_arrow(column, allowed_special="all").to_pylist() == expected(
        enc, column.to_pylist(), "encode", allowed_special="all")
    assert enc.encode_ordinary_arrow(column).to_pylist() == expected(enc, column.to_pylist())


def test_without_normalization():
    enc = qtok.get_encoding("qwen", normalization=None)
    column = pa.array(MIXED)
    assert enc.encode_ordinary_arrow(column).to_pylist() == expected(enc, MIXED)


def test_threads_and_many_rows(qwen_enc):
    texts = synthetic_texts(3000, seed=4)
    column = pa.array(texts)
    want = expected(qwen_enc, texts)
    for n in (1, 2, None):
        assert qwen_enc.encode_ordinary_arrow(column, num_threads=n).to_pylist() == want
    with pytest.raises(ValueError, match="num_threads"):
        qwen_enc.encode_ordinary_arrow(column, num_threads=0)


def test_large_list_and_exact_buffers(qwen_enc):
    column = pa.array(MIXED)
    got = qwen_enc.encode_ordinary_arrow(column, large_list=True)
    assert got.type == pa.large_list(pa.uint32())
    assert got.to_pylist() == expected(qwen_enc, MIXED)
    # The output holds its ids and offsets and nothing more.
    plain = qwen_enc.encode_ordinary_arrow(column)
    n_ids = sum(len(ids) for ids in expected(qwen_enc, MIXED) if ids is not None)
    assert plain.values.buffers()[1].size == 4 * n_ids
    assert plain.buffers()[1].size == 4 * (len(MIXED) + 1)


text_or_null = st.one_of(st.none(), st.text(alphabet=st.characters(
    blacklist_categories=("Cs",)), max_size=30), st.sampled_from(MIXED[2:]))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(text_or_null, max_size=40), start=st.integers(0, 5),
       layout=st.sampled_from(LAYOUTS), cut=st.integers(0, 40))
def test_fuzzed_columns(qwen_enc, rows, start, layout, cut):
    column = pa.array(rows, type=layout).slice(min(start, len(rows)))
    chunked = pa.chunked_array([column.slice(0, cut), column.slice(cut)], type=layout)
    want = expected(qwen_enc, column.to_pylist())
    assert qwen_enc.encode_ordinary_arrow(column).to_pylist() == want
    assert qwen_enc.encode_ordinary_arrow(chunked).to_pylist() == want
    assert qwen_enc.count_ordinary_arrow(chunked).to_pylist() == [
        None if ids is None else len(ids) for ids in want]


# -- bad input -------------------------------------------------------------------------------

def test_not_a_string_column(qwen_enc):
    for bad, message in [(pa.array([1, 2]), "format 'l' .int64"), (pa.array([b"x"]), "binary"),
                         (pa.table({"a": ["x"], "b": ["y"]}), "table of 2 columns: pass one column"),
                         (pa.table({"a": [1]}), "int64"),
                         (pa.array(["a", "b"]).dictionary_encode(), "dictionary"),
                         (["a", "b"], "encode_ordinary_batch"), ("text", "got str"), (None, "NoneType")]:
        with pytest.raises(TypeError, match=message):
            qwen_enc.encode_ordinary_arrow(bad)
        with pytest.raises(TypeError, match=message):
            qwen_enc.count_arrow(bad)


def test_a_table_of_one_column(qwen_enc):
    table = pa.table({"text": MIXED}).slice(3)
    assert qwen_enc.encode_ordinary_arrow(table).to_pylist() == expected(qwen_enc, MIXED[3:])
    nulls = pa.StructArray.from_arrays([pa.array(MIXED)], names=["text"],
                                       mask=pa.array([i % 4 == 0 for i in range(len(MIXED))]))
    want = [None if i % 4 == 0 else ids for i, ids in enumerate(expected(qwen_enc, MIXED))]
    assert qwen_enc.encode_ordinary_arrow(nulls.slice(1)).to_pylist() == want[1:]


def test_invalid_utf8_names_the_row(qwen_enc):
    data = b"okay" + b"\xff\xfe" + b"caf\xc3"          # row 1 is not UTF-8, row 2 is cut short
    offsets = pa.array([0, 4, 6, 10], type=pa.int32())
    column = pa.Array.from_buffers(pa.string(), 3, [None, offsets.buffers()[1], pa.py_buffer(data)])
    with pytest.raises(ValueError, match="row 1 of the column is not valid UTF-8"):
        qwen_enc.encode_ordinary_arrow(column)
    # Rows are numbered within the column given: in the slice, row 2 is row 0.
    with pytest.raises(ValueError, match="row 0 of the column is not valid UTF-8"):
        qwen_enc.count_ordinary_arrow(column.slice(2))
    # Surrogates spelled in UTF-8 (CESU) are not UTF-8 either.
    data = b"\xed\xa0\x80"
    column = pa.Array.from_buffers(pa.string(), 1, [None, pa.array([0, 3], pa.int32()).buffers()[1],
                                                    pa.py_buffer(data)])
    with pytest.raises(ValueError, match="row 0"):
        qwen_enc.encode_ordinary_arrow(column)


def test_damaged_offsets(qwen_enc):
    offsets = pa.array([0, 5, 2], type=pa.int32())      # row 1 ends before it starts
    column = pa.Array.from_buffers(pa.string(), 2, [None, offsets.buffers()[1], pa.py_buffer(b"hello")])
    with pytest.raises(ValueError, match="damaged Arrow string array: row 1"):
        qwen_enc.encode_ordinary_arrow(column)


def test_a_capsule_is_read_once(qwen_enc):
    from qtok._bpe import ArrowRows
    capsule = pa.chunked_array([pa.array(["a"])]).__arrow_c_stream__()
    ArrowRows.from_stream(capsule)
    with pytest.raises(ValueError, match="already consumed"):
        ArrowRows.from_stream(capsule)


def test_without_pyarrow_says_what_to_install(qwen_enc, monkeypatch):
    column = pa.array(["a"])
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(qtok.errors.MissingDependency, match="pip install pyarrow"):
        qwen_enc.encode_ordinary_arrow(column)


# -- other producers -------------------------------------------------------------------------

def test_polars_series(qwen_enc):
    pl = pytest.importorskip("polars")
    series = pl.Series(MIXED)
    assert qwen_enc.encode_ordinary_arrow(series).to_pylist() == expected(qwen_enc, MIXED)


def test_duckdb_result(qwen_enc):
    duckdb = pytest.importorskip("duckdb")
    rows = pa.table({"text": MIXED})                    # noqa: F841 (DuckDB reads it by name)
    relation = duckdb.sql("SELECT text FROM rows")
    # A DuckDB relation is itself an Arrow stream producer: no pyarrow in between.
    got = qwen_enc.encode_ordinary_arrow(relation) if hasattr(relation, "__arrow_c_stream__") \
        else qwen_enc.encode_ordinary_arrow(relation.arrow()["text"])
    assert got.to_pylist() == expected(qwen_enc, MIXED)


def test_datasets_recipe(qwen_enc):
    datasets = pytest.importorskip("datasets")
    texts = [t for t in MIXED if t is not None] * 5
    ds = datasets.Dataset.from_dict({"text": texts}).with_format("arrow")
    # In arrow format, a batch is a pyarrow Table and map takes a Table back.
    out = ds.map(lambda batch: pa.table({"ids": qwen_enc.encode_ordinary_arrow(batch["text"])}),
                 batched=True, batch_size=16)
    assert out.with_format(None)["ids"] == expected(qwen_enc, texts)


# -- qtok count on Parquet and JSON-lines files: the text column as Arrow batches --

def _run_count(*args):
    from qtok.cli import main
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["count", *args])
    return code, out.getvalue().strip(), err.getvalue().strip()


@pytest.fixture
def table_files(tmp_path):
    import json
    import pyarrow.parquet as pq
    rows = (MIXED[:9] + synthetic_texts(200)) * 100    # several read batches
    rows = [r for r in rows if r is None or "<|" not in r]
    pq.write_table(pa.table({"id": list(range(len(rows))), "text": rows}),
                   tmp_path / "a.parquet", row_group_size=3000)
    with open(tmp_path / "a.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"text": r, "n": 1}) + "\n")
    return tmp_path, rows


def test_count_reads_parquet_and_jsonl_columns(qwen_enc, table_files):
    path, rows = table_files
    want = sum(qwen_enc.count(r) for r in rows if r is not None)
    assert _run_count("-f", str(path / "a.parquet")) == (0, str(want), "")
    assert _run_count("-f", str(path / "a.jsonl"), "--threads", "1") == (0, str(want), "")
    code, out, _ = _run_count("-f", str(path / "a.parquet"), "-f", str(path / "a.jsonl"), "--json")
    import json
    assert code == 0 and json.loads(out)["total"] == 2 * want


def test_count_table_errors_are_one_line(qwen_enc, table_files):
    import pyarrow.parquet as pq
    path, rows = table_files
    (path / "bad.parquet").write_text("not parquet")
    (path / "bad.jsonl").write_text('{"text": "a"}\n{"text": 3}\n')
    pq.write_table(pa.table({"text": ["ok"] * 20000 + ["a <|endoftext|>"]}), path / "sp.parquet")
    cases = {("-f", str(path / "a.parquet"), "--text-column", "nope"): "no column 'nope'",
             ("-f", str(path / "a.parquet"), "--text-column", "id"): "expected an Arrow string",
             ("-f", str(path / "bad.parquet")): "cannot read it as Parquet",
             ("-f", str(path / "bad.jsonl")): "cannot read it as JSON lines",
             ("-f", str(path / "sp.parquet")): "row 20000: ",
             ("--text-column", "text", "hello"): "give one with --file"}
    for args, needle in cases.items():
        code, out, err = _run_count(*args)
        assert code == 2 and out == "" and needle in err and len(err.splitlines()) == 1, (args, err)
    assert _run_count("-f", str(path / "sp.parquet"), "--allowed-special", "all")[1] == "20003"
    assert _run_count("-f", str(path / "sp.parquet"), "--plain")[1] == str(
        20000 + qwen_enc.count("a <|endoftext|>", disallowed_special=()))
