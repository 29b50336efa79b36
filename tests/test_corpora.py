"""The language manifest and the corpus loaders (qtok.analysis.languages, .corpora, .tables).

Synthetic folders and files in tmp_path cover every loader and every bad
input; the test corpora ($QTOK_TEST_CORPORA, skipped when absent) check
the loaders against the real files, with the parsing redone independently.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from corpus_files import BUNDLED_CORPORA, SHARED_CORPORA
from qtok.analysis import languages
from qtok.analysis.corpora import (Corpus, load_bundled, load_corpus, load_txt_folder,
                                   load_udhr_folder, merge)
from qtok.analysis.languages import lookup, resolve_codes
from qtok.analysis.tables import load_table_file
from qtok.errors import CorpusError, LanguageError

NS = "http://efele.net/udhr"


def udhr_xml(key: str, lang: str, paras: list[str], *, note: str | None = None,
             listitems: list[str] = ()) -> str:
    """A small file shaped like the UDHR in Unicode ones."""
    note_xml = f"<note><para>{note}</para></note>" if note else ""
    items = "".join(f"<listitem><para>{t}</para></listitem>" for t in listitems)
    lists = f"<orderedlist>{items}</orderedlist>" if listitems else ""
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n"
            f"<udhr iso639-3='{key}' xml:lang='{lang}' key='{key}' n='x' xmlns='{NS}'>"
            f"<title>Top title</title>{note_xml}"
            f"<preamble><title>Preamble</title><para>  {paras[0]}  </para></preamble>"
            f"<article number='1'><title>Article 1</title>"
            + "".join(f"<para>{p}</para>" for p in paras[1:]) + lists +
            "</article></udhr>")


# -- the manifest ------------------------------------------------------------------------

def test_manifest_lists_the_languages_of_the_shared_readme():
    langs = languages.languages()
    codes = [lang.code for lang in langs]
    assert codes[0] == "en" and len(codes) == len(set(codes)) == 31
    assert {"zh", "zh-Hant", "yue", "ja", "ko", "th", "lo", "my", "km", "ceb"} <= set(codes)
    no_spaces = {lang.code for lang in langs if not lang.spaces}
    assert no_spaces == {"zh", "zh-Hant", "yue", "ja", "th", "lo", "my", "km"}
    assert {lang.code for lang in langs if lang.extra} == {"zh-Hant", "yue"}
    assert lookup("ja").scripts == ("Han", "Hiragana", "Katakana")
    assert lookup("ms").udhr == "mly_latn" and lookup("lo").leipzig is None


@pytest.mark.parametrize("alias, code", [
    ("en", "en"), ("ENG", "en"), ("eng_Latn", "en"), ("english", "en"), ("zh_hant", "zh-Hant"),
    ("cmn_Hant", "zh-Hant"), ("zho_Hans", "zh"), ("pes", "fa"), ("zsm_Latn", "ms"), ("fil", "tl"),
])
def test_lookup_accepts_aliases(alias, code):
    assert lookup(alias).code == code


def test_unknown_language_message_lists_codes():
    with pytest.raises(LanguageError, match=r"unknown language 'xx': use one of en, zh"):
        lookup("xx")
    assert resolve_codes("fr, eng,fra") == ["fr", "en"]
    with pytest.raises(LanguageError):
        resolve_codes(" , ")


@pytest.mark.skipif(not (SHARED_CORPORA / "README.md").is_file(), reason="shared corpora absent")
def test_manifest_matches_the_shared_readme_table():
    rows = [line.split("|")[1:-1] for line in (SHARED_CORPORA / "README.md").read_text().splitlines()
            if re.match(r"\| [a-z]{2,3}(-Hant)? \|", line)]
    assert len(rows) == 31
    for code, _name, _script, udhr, leipzig in ([c.strip() for c in r] for r in rows):
        lang = lookup(code)
        assert lang.code == code
        assert f"udhr_{lang.udhr}.xml" == udhr
        assert (lang.leipzig or "-") == leipzig


# -- plain-text folders ----------------------------------------------------------------------

def test_txt_folder_one_document_per_non_empty_line(tmp_path):
    (tmp_path / "en.txt").write_text("first line\n\n   \nsecond line\r\nthird", encoding="utf-8")
    (tmp_path / "fra.txt").write_bytes("\ufeffun\u2028deux\n".encode("utf-8"))   # BOM, LINE SEPARATOR
    (tmp_path / "README.md").write_text("not a corpus file")
    corpus = load_txt_folder(tmp_path)
    # Blank and whitespace-only lines are not documents; U+2028 is not a line break here.
    assert corpus.documents == {"en": ["first line", "second line", "third"],
                                "fr": ["un\u2028deux"]}
    assert corpus.codes == ["en", "fr"] and not corpus.parallel
    assert load_txt_folder(tmp_path, parallel=True).parallel_codes == {"en", "fr"}


def test_txt_folder_errors(tmp_path):
    with pytest.raises(CorpusError, match="no such folder"):
        load_txt_folder(tmp_path / "missing")
    with pytest.raises(CorpusError, match="no .txt files"):
        load_txt_folder(tmp_path)
    (tmp_path / "en.txt").write_text("\n\n")
    with pytest.raises(CorpusError, match="all .txt files are empty"):
        load_txt_folder(tmp_path)
    (tmp_path / "xx.txt").write_text("hello")
    with pytest.raises(CorpusError, match=r"xx.txt: unknown language 'xx'.*rename/remove"):
        load_txt_folder(tmp_path)
    (tmp_path / "xx.txt").unlink()
    (tmp_path / "eng.txt").write_text("hello")
    with pytest.raises(CorpusError, match="are both en"):
        load_txt_folder(tmp_path)
    (tmp_path / "eng.txt").unlink()
    (tmp_path / "de.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(CorpusError, match="not UTF-8"):
        load_txt_folder(tmp_path)


@pytest.mark.skipif(not list(BUNDLED_CORPORA.glob("*.txt")), reason="bundled corpus not written yet")
def test_bundled_corpus_is_parallel_and_in_manifest_order():
    corpus = load_bundled()
    assert corpus.name == "bundled" and corpus.codes[0] == "en"
    assert corpus.parallel_codes == set(corpus.codes)
    assert corpus.codes == languages.order(corpus.codes)
    for docs in corpus.documents.values():
        assert docs and all(d.strip() and "\n" not in d for d in docs)


# -- UDHR XML -----------------------------------------------------------------------------------

def test_udhr_documents_skip_top_title_and_note(tmp_path):
    (tmp_path / "udhr_eng.xml").write_text(
        udhr_xml("eng", "en", ["Whereas one", "All are born free.", "Second para."],
                 note="Adopted in 1948", listitems=["Item one.", "Item two."]), encoding="utf-8")
    (tmp_path / "udhr_cmn_hant.xml").write_text(udhr_xml("cmn_hant", "zh-Hant", ["序言", "人人生而自由"]),
                                                encoding="utf-8")
    corpus = load_udhr_folder(tmp_path)
    assert corpus.documents["en"] == ["Preamble", "Whereas one", "Article 1", "All are born free.",
                                      "Second para.", "Item one.", "Item two."]
    assert corpus.documents["zh-Hant"] == ["Preamble", "序言", "Article 1", "人人生而自由"]
    assert corpus.parallel_codes == {"en", "zh-Hant"}
    assert load_corpus(tmp_path).documents == corpus.documents   # detected as a UDHR folder


def test_udhr_language_from_the_root_when_the_file_name_says_nothing(tmp_path):
    (tmp_path / "declaration.xml").write_text(udhr_xml("tha", "th", ["a", "b"]), encoding="utf-8")
    assert load_udhr_folder(tmp_path).codes == ["th"]


def test_udhr_errors(tmp_path):
    with pytest.raises(CorpusError, match="no .xml files"):
        load_udhr_folder(tmp_path)
    bad = tmp_path / "udhr_eng.xml"
    bad.write_text(f"<udhr xmlns='{NS}'><preamble><para>unclosed</preamble></udhr>")
    with pytest.raises(CorpusError, match=r"udhr_eng.xml: malformed XML \(mismatched tag: line 1"):
        load_udhr_folder(tmp_path)
    bad.write_text("<html><body/></html>")
    with pytest.raises(CorpusError, match="not a UDHR in Unicode file"):
        load_udhr_folder(tmp_path)
    bad.unlink()
    (tmp_path / "udhr_xyz.xml").write_text(udhr_xml("xyz", "xyz", ["a", "b"]))
    with pytest.raises(CorpusError, match=r"unknown UDHR language 'xyz'"):
        load_udhr_folder(tmp_path)


def _independent_udhr(path: Path) -> list[str]:
    """Titles and paras under preamble/article, found with ElementPath."""
    root = ET.parse(path).getroot()
    ns = {"u": NS}
    out = []
    for section in root.findall("u:preamble", ns) + root.findall("u:article", ns):
        for el in section.iter():
            if el.tag in (f"{{{NS}}}title", f"{{{NS}}}para") and el.text and el.text.strip():
                out.append(el.text.strip())
    return out


def test_shared_udhr_folder(shared_corpora):
    corpus = load_udhr_folder(shared_corpora / "udhr")
    assert len(corpus.codes) == 31 and corpus.parallel_codes == set(corpus.codes)
    for lang in languages.languages():
        expected = _independent_udhr(shared_corpora / "udhr" / f"udhr_{lang.udhr}.xml")
        assert corpus.documents[lang.code] == expected, lang.code
    # 30 articles and a preamble everywhere: every file has at least 31 titles.
    assert all(len(docs) >= 62 for docs in corpus.documents.values())
    assert "Universal Declaration of Human Rights" not in corpus.documents["en"]


def test_shared_leipzig_folder(shared_corpora):
    corpus = load_corpus(shared_corpora / "leipzig")
    assert len(corpus.codes) == 25 and not corpus.parallel
    assert {"lo", "my", "km", "ceb"}.isdisjoint(corpus.codes)
    for lang in languages.languages():
        if lang.leipzig:
            lines = (shared_corpora / "leipzig" / lang.leipzig).read_text(encoding="utf-8").split("\n")
            assert corpus.documents[lang.code] == [line for line in lines if line.strip()]


# -- pooling ----------------------------------------------------------------------------------------

def test_merge_keeps_parity_only_where_it_still_means_something():
    a = Corpus("a", {"en": ["x"], "fr": ["y"], "de": ["z"]}, frozenset({"en", "fr", "de"}))
    b = Corpus("b", {"en": ["x2"], "fr": ["y2"]}, frozenset({"en", "fr"}))
    mono = Corpus("m", {"en": ["w"]})
    both = merge([a, b])
    assert both.name == "a + b" and both.documents["en"] == ["x", "x2"]
    assert both.parallel_codes == {"en", "fr"}        # de comes from a only, English from both
    assert merge([a, mono]).parallel_codes == frozenset()
    with pytest.raises(CorpusError, match="no documents in ja"):
        both.select(["en", "ja"])


def test_load_corpus_dispatch_errors(tmp_path):
    with pytest.raises(CorpusError, match="no such file or folder"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="empty folder"):
        load_corpus(tmp_path)
    (tmp_path / "en.txt").write_text("a")
    (tmp_path / "udhr_eng.xml").write_text(udhr_xml("eng", "en", ["a", "b"]))
    with pytest.raises(CorpusError, match="both .xml and .txt"):
        load_corpus(tmp_path)
    odd = tmp_path / "notes.docx"
    odd.write_text("x")
    with pytest.raises(CorpusError, match="unknown file type '.docx'"):
        load_corpus(odd)
    assert load_corpus(tmp_path / "en.txt").documents == {"en": ["a"]}


# -- tables through `datasets` ----------------------------------------------------------------------

def test_jsonl_with_language_column(tmp_path):
    pytest.importorskip("datasets")
    path = tmp_path / "docs.jsonl"
    rows = [{"text": "Hello world", "lang": "en"}, {"text": "Bonjour", "lang": "fra"},
            {"text": "", "lang": "en"}, {"text": "Hallo", "lang": "de"}]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    corpus = load_table_file(path)
    assert corpus.documents == {"en": ["Hello world"], "de": ["Hallo"], "fr": ["Bonjour"]}
    assert load_table_file(path, langs=["de"]).documents == {"de": ["Hallo"]}


def test_csv_tsv_and_parquet(tmp_path):
    pytest.importorskip("datasets")
    (tmp_path / "a.csv").write_text('body,language\n"Hi, there",en\n你好,zh\n', encoding="utf-8")
    corpus = load_table_file(tmp_path / "a.csv", text_column="body")
    assert corpus.documents == {"en": ["Hi, there"], "zh": ["你好"]}
    (tmp_path / "b.tsv").write_text("text\tiso_639_3\tiso_15924\n說話\tcmn\tHant\nhi\teng\tLatn\n",
                                    encoding="utf-8")
    assert load_table_file(tmp_path / "b.tsv").documents == {"en": ["hi"], "zh-Hant": ["說話"]}
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"sentence": ["สวัสดี", "hello"], "code": ["th", "en"]}),
                   tmp_path / "c.parquet")
    assert load_table_file(tmp_path / "c.parquet").documents == {"en": ["hello"], "th": ["สวัสดี"]}


def test_single_language_table_needs_langs(tmp_path):
    pytest.importorskip("datasets")
    path = tmp_path / "only.jsonl"
    path.write_text('{"text": "uno"}\n{"text": "dos"}\n')
    with pytest.raises(CorpusError, match="no language column.*--lang-column.*--langs"):
        load_table_file(path)
    assert load_table_file(path, langs=["es"]).documents == {"es": ["uno", "dos"]}


def test_table_errors(tmp_path):
    pytest.importorskip("datasets")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "lang": "en"}\n{"text": "broken\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad.jsonl: cannot read it as JSON lines .*: fix the file"):
        load_table_file(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(CorpusError, match="the file is empty"):
        load_table_file(empty)
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"text": "a", "lang": "en"}\n{"text": "b", "lang": "klingon"}\n')
    with pytest.raises(CorpusError, match=r"unknown language 'klingon'.*--langs"):
        load_table_file(unknown)
    assert load_table_file(unknown, langs=["en"]).documents == {"en": ["a"]}
    with pytest.raises(CorpusError, match=r"no column 'body' \(columns: text, lang\)"):
        load_table_file(unknown, text_column="body")
    with pytest.raises(CorpusError, match="no such file"):
        load_table_file(tmp_path / "missing.csv")
