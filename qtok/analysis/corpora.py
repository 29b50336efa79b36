"""Corpus loaders for ``qtok report``: text per language, as lists of documents.

A ``Corpus`` maps manifest language codes to documents (raw strings; the
metrics normalize them to NFC).  Sources:

* the bundled corpus (``load_bundled``): one passage translated into every
  manifest language, one paragraph per line -- parallel;
* a folder of ``<code>.txt`` files (``load_txt_folder``): every non-empty line
  is one document, without its line break;
* a folder of UDHR in Unicode XML files (``load_udhr_folder``): every
  ``<title>`` and ``<para>`` inside ``<preamble>`` and ``<article>`` is one
  document (paras inside ``<orderedlist>/<listitem>`` included); the
  top-level title and ``<note>`` are skipped -- parallel;
* a JSONL / JSON / CSV / TSV / Parquet file with text and language columns
  (``qtok.analysis.tables``) or a Hugging Face hub dataset (``qtok.analysis.hub``),
  both read through the optional dependency ``datasets``.

``load_corpus(path)`` picks the loader from what the path is; ``merge`` pools
several corpora.  Every user mistake (missing folder, unknown language, bad
XML/JSON, offline hub) raises ``CorpusError`` with a one-line message that
says what to do.
"""
from __future__ import annotations

import os
import pathlib
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Sequence

from ..errors import CorpusError
from .corpus import Corpus, merge, parallel_codes, sorted_documents
from .languages import bundled_dir, find, languages
from .tables import load_table_file

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["Corpus", "load_bundled", "load_txt_folder", "load_udhr_folder", "load_corpus",
           "merge"]

UDHR_NS = "{http://efele.net/udhr}"
_UDHR_TEXT = (UDHR_NS + "title", UDHR_NS + "para")


# -- plain-text folders ------------------------------------------------------------

def _txt_documents(text: str) -> list[str]:
    # splitlines() would also split on U+2028, U+0085 ... inside a sentence;
    # only real line breaks end a document.
    return [line for line in re.split(r"\r\n|\n|\r", text) if line.strip()]


def _read_text(path: "Traversable", what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text (byte {exc.start}): save the {what} as UTF-8") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def load_txt_folder(folder: "str | os.PathLike | Traversable", *, parallel: bool = False,
                    name: str | None = None) -> Corpus:
    """A folder of ``<code>.txt`` files; each non-empty line is one document.

    Files are named by a manifest code or alias (``en.txt``, ``eng.txt``);
    other extensions are ignored.  Pass ``parallel=True`` when the files are
    translations of each other.
    """
    folder = _as_folder(folder)
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".txt") and p.is_file()),
                   key=lambda p: p.name)
    if not files:
        raise CorpusError(f"{folder}: no .txt files: put one <code>.txt file per language "
                          f"there (en.txt, zh.txt, ...)")
    docs: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for path in files:
        code = _code_of_file(path.name[:-4], path, "txt")
        if code in seen:
            raise CorpusError(f"{folder}: {seen[code]} and {path.name} are both {code}: keep one")
        seen[code] = path.name
        found = _txt_documents(_read_text(path, "file"))
        if found:
            docs[code] = found
    if not docs:
        raise CorpusError(f"{folder}: all .txt files are empty: put one document per line in them")
    docs = sorted_documents(docs)
    return Corpus(name or _folder_name(folder), docs, parallel_codes(docs) if parallel else frozenset())


def _code_of_file(stem: str, path, kind: str) -> str:
    lang = find(stem)
    if lang is None:
        codes = ", ".join(lang.code for lang in languages())
        raise CorpusError(f"{path}: unknown language {stem!r}: name {kind} files by a language "
                          f"code ({codes}) or rename/remove the file")
    return lang.code


def load_bundled() -> Corpus:
    """The corpus shipped with qtok: one passage in every manifest language (parallel)."""
    folder = bundled_dir()
    try:
        corpus = load_txt_folder(folder, parallel=True, name="bundled")
    except CorpusError as exc:
        raise CorpusError(f"the bundled corpus is missing or damaged ({exc}); reinstall qtok "
                          f"or pass --corpus") from None
    return corpus


# -- UDHR XML ------------------------------------------------------------------------

def udhr_sections(root: ET.Element) -> list[tuple[str, str]]:
    """(section, text) of every title and para inside the preamble and the
    articles of one parsed UDHR file, in order; the section ("preamble",
    "article 3") aligns the documents of two translations, whose paragraphs
    within an article need not correspond.  The top-level title and notes
    are not part of the declaration's text."""
    out: list[tuple[str, str]] = []
    for position, section in enumerate(root):
        if section.tag == UDHR_NS + "preamble":
            key = "preamble"
        elif section.tag == UDHR_NS + "article":
            key = f"article {section.get('number') or position}"
        else:
            continue
        for element in section.iter():
            if element.tag not in _UDHR_TEXT:
                continue
            # strip(): indentation around the text is XML layout, not content.
            text = "".join(element.itertext()).strip()
            if text:
                out.append((key, text))
    return out


def udhr_documents(root: ET.Element) -> list[str]:
    """The documents of one parsed UDHR file (the texts of udhr_sections)."""
    return [text for _, text in udhr_sections(root)]


def _udhr_code(path: pathlib.Path, root: ET.Element) -> str:
    keys = {lang.udhr.lower(): lang.code for lang in languages() if lang.udhr}
    stem = path.stem
    candidates = [stem[5:] if stem.startswith("udhr_") else stem, root.get("key") or ""]
    for key in candidates:
        if key.lower() in keys:
            return keys[key.lower()]
    for name in (root.get("{http://www.w3.org/XML/1998/namespace}lang"), stem):
        if name and find(name):
            return find(name).code
    raise CorpusError(f"{path}: unknown UDHR language {candidates[0]!r}: name the file "
                      f"udhr_<key>.xml with a key from languages.tsv (udhr_eng.xml, ...) or remove it")


def _parse_udhr(path: pathlib.Path) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise CorpusError(f"{path}: malformed XML ({exc}): fix the file or remove it") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if root.tag != UDHR_NS + "udhr":
        raise CorpusError(f"{path}: not a UDHR in Unicode file (root <{root.tag}>, expected "
                          f"<udhr xmlns=\"http://efele.net/udhr\">): remove it from the folder")
    return root


def load_udhr_folder(folder: str | os.PathLike, *, name: str | None = None) -> Corpus:
    """A folder of UDHR in Unicode XML files (``udhr_<key>.xml``), parallel."""
    folder = _as_folder(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix == ".xml" and p.is_file())
    if not files:
        raise CorpusError(f"{folder}: no .xml files: expected UDHR files such as udhr_eng.xml")
    docs: dict[str, list[str]] = {}
    keys: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for path in files:
        root = _parse_udhr(path)
        code = _udhr_code(path, root)
        if code in seen:
            raise CorpusError(f"{folder}: {seen[code]} and {path.name} are both {code}: keep one")
        seen[code] = path.name
        found = udhr_sections(root)
        if not found:
            raise CorpusError(f"{path}: no <para> or <title> in <preamble> or <article>: "
                              f"is it a UDHR file?")
        docs[code] = [text for _, text in found]
        keys[code] = [key for key, _ in found]
    docs = sorted_documents(docs)
    return Corpus(name or _folder_name(folder), docs, parallel_codes(docs), keys)


# -- picking the loader -------------------------------------------------------------------

def _as_folder(folder) -> "Traversable":
    if isinstance(folder, (str, os.PathLike)):
        folder = pathlib.Path(folder)
    if not folder.is_dir():
        if isinstance(folder, pathlib.Path) and folder.exists():
            raise CorpusError(f"{folder}: not a folder")
        raise CorpusError(f"{folder}: no such folder")
    return folder


def _folder_name(folder) -> str:
    return getattr(folder, "name", "") or str(folder)


def load_corpus(path: str | os.PathLike, *, text_column: str | None = None,
                lang_column: str | None = None, langs: Sequence[str] | None = None,
                parallel: bool | None = None, num_proc: int | None = None,
                progress: bool = False) -> Corpus:
    """Load whatever ``path`` is: a folder of .txt or UDHR .xml files, one
    ``<code>.txt`` or UDHR file, or a table file (see ``TABLE_FORMATS``).

    ``parallel`` overrides whether parity is computed (UDHR: yes; others: no).
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    if path.is_dir():
        names = [p.name for p in path.iterdir() if p.is_file()]
        has_xml = any(n.endswith(".xml") for n in names)
        has_txt = any(n.endswith(".txt") for n in names)
        if has_xml and has_txt:
            raise CorpusError(f"{path}: holds both .xml and .txt files: keep one kind per folder")
        if has_xml:
            corpus = load_udhr_folder(path)
        elif has_txt:
            corpus = load_txt_folder(path, parallel=bool(parallel))
        else:
            raise CorpusError(f"{path}: no .txt or .xml files (an empty folder?): point --corpus "
                              f"at a folder of <code>.txt files or UDHR .xml files")
    elif path.suffix.lower() == ".txt":
        code = _code_of_file(path.stem, path, "txt")
        found = _txt_documents(_read_text(path, "file"))
        if not found:
            raise CorpusError(f"{path}: the file is empty: put one document per line in it")
        corpus = Corpus(path.stem, {code: found})
    elif path.suffix.lower() == ".xml":
        root = _parse_udhr(path)
        code, found = _udhr_code(path, root), udhr_sections(root)
        corpus = Corpus(path.stem, {code: [t for _, t in found]}, keys={code: [k for k, _ in found]})
    else:
        corpus = load_table_file(path, text_column=text_column, lang_column=lang_column,
                                 langs=langs, parallel=bool(parallel), num_proc=num_proc,
                                 progress=progress)
    if parallel is not None:
        corpus.parallel_codes = parallel_codes(corpus.documents) if parallel else frozenset()
    return corpus
