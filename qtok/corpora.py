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
  (``load_table_file``) or a Hugging Face hub dataset (``load_hub_dataset``),
  both read through the optional dependency ``datasets``.

``load_corpus(path)`` picks the loader from what the path is; ``merge`` pools
several corpora.  Every user mistake (missing folder, unknown language, bad
XML/JSON, offline hub) raises ``CorpusError`` with a one-line message that
says what to do.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import pathlib
import re
import socket
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from .languages import ENGLISH, bundled_dir, find, languages, order

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["Corpus", "CorpusError", "load_bundled", "load_txt_folder", "load_udhr_folder",
           "load_table_file", "load_hub_dataset", "load_corpus", "merge"]

UDHR_NS = "{http://efele.net/udhr}"
_UDHR_TEXT = (UDHR_NS + "title", UDHR_NS + "para")
#: File extensions read through ``datasets``, and the builder each one uses.
TABLE_FORMATS = {".jsonl": "json", ".json": "json", ".ndjson": "json", ".csv": "csv",
                 ".tsv": "csv", ".parquet": "parquet"}
#: Column names tried, in order, when --text-column / --lang-column are not given.
TEXT_COLUMNS = ("text", "sentence", "content", "document")
LANG_COLUMNS = ("lang", "language", "code", "lang_code", "language_code", "locale")


class CorpusError(ValueError):
    """A corpus that cannot be read; the message says what to do about it."""


@dataclass
class Corpus:
    """Documents per language.

    ``parallel_codes`` holds the languages whose documents say the same as the
    English ones (so tokens / English tokens -- parity -- means something);
    it is empty for monolingual collections such as Leipzig.
    """

    name: str
    documents: dict[str, list[str]]
    parallel_codes: frozenset[str] = field(default_factory=frozenset)

    @property
    def parallel(self) -> bool:
        return bool(self.parallel_codes)

    @property
    def codes(self) -> list[str]:
        return list(self.documents)

    def select(self, codes: Sequence[str] | None) -> "Corpus":
        """The same corpus restricted to ``codes`` (in that order); an error
        names the requested languages that have no documents."""
        if codes is None:
            return self
        missing = [c for c in codes if c not in self.documents]
        if missing:
            raise CorpusError(f"{self.name} has no documents in {', '.join(missing)}; "
                              f"it has {', '.join(self.documents)}")
        return Corpus(self.name, {c: self.documents[c] for c in codes},
                      self.parallel_codes & set(codes))


def _sorted_docs(docs: dict[str, list[str]]) -> dict[str, list[str]]:
    return {code: docs[code] for code in order(docs)}


def _parallel(codes: Iterable[str]) -> frozenset[str]:
    codes = frozenset(codes)
    return codes if ENGLISH in codes else frozenset()


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
    docs = _sorted_docs(docs)
    return Corpus(name or _folder_name(folder), docs, _parallel(docs) if parallel else frozenset())


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

def udhr_documents(root: ET.Element) -> list[str]:
    """The documents of one parsed UDHR file: every title and para inside the
    preamble and the articles, in order (the top-level title and notes are not
    part of the declaration's text)."""
    docs: list[str] = []
    for section in root:
        if section.tag not in (UDHR_NS + "preamble", UDHR_NS + "article"):
            continue
        for element in section.iter():
            if element.tag not in _UDHR_TEXT:
                continue
            # strip(): indentation around the text is XML layout, not content.
            text = "".join(element.itertext()).strip()
            if text:
                docs.append(text)
    return docs


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
    seen: dict[str, str] = {}
    for path in files:
        root = _parse_udhr(path)
        code = _udhr_code(path, root)
        if code in seen:
            raise CorpusError(f"{folder}: {seen[code]} and {path.name} are both {code}: keep one")
        seen[code] = path.name
        found = udhr_documents(root)
        if not found:
            raise CorpusError(f"{path}: no <para> or <title> in <preamble> or <article>: "
                              f"is it a UDHR file?")
        docs[code] = found
    docs = _sorted_docs(docs)
    return Corpus(name or _folder_name(folder), docs, _parallel(docs))


# -- tables and hub datasets, through `datasets` ----------------------------------------

def _import_datasets(quiet: bool = True):
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


def _root_cause(exc: BaseException) -> BaseException:
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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
    datasets = _import_datasets(quiet=not progress)
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
            cause = _root_cause(exc)
            what = {"json": "JSON lines (one object per line)", "csv": "CSV with a header row",
                    "parquet": "Parquet"}[fmt]
            raise CorpusError(f"{path}: cannot read it as {what} ({_first_line(cause)}): "
                              f"fix the file") from None
        return _corpus_from_table(ds, path.name, str(path), text_column, lang_column, langs,
                                  parallel)


def _pick_column(columns: list[str], given: str | None, candidates: Sequence[str], what: str,
                 option: str, source: str) -> str | None:
    if given is not None:
        if given not in columns:
            raise CorpusError(f"{source}: no column {given!r} (columns: {', '.join(columns)}): "
                              f"pass the right one with {option}")
        return given
    return next((c for c in candidates if c in columns), None)


def _corpus_from_table(ds, name: str, source: str, text_column: str | None,
                       lang_column: str | None, langs: Sequence[str] | None, parallel: bool,
                       fixed_code: str | None = None) -> Corpus:
    columns = list(ds.column_names)
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

    texts = ds[text_col]
    if lang_cols:
        values = ["_".join(str(v) for v in vals) for vals in zip(*(ds[c] for c in lang_cols))]
    elif fixed_code is not None or (langs is not None and len(langs) == 1):
        values = [fixed_code or langs[0]] * len(texts)
    else:
        raise CorpusError(f"{source}: no language column among {', '.join(columns)}: say which "
                          f"with --lang-column, or give the one language with --langs")

    wanted = set(langs) if langs is not None else None
    code_of: dict[str, str | None] = {}
    unknown: dict[str, int] = {}
    docs: dict[str, list[str]] = {}
    for text, value in zip(texts, values):
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
    if unknown and wanted is None:
        sample = ", ".join(f"{v!r}" for v in list(unknown)[:5])
        raise CorpusError(f"{source}: unknown language {sample} in column "
                          f"{'+'.join(lang_cols)}: pass --langs to keep only known languages "
                          f"(codes in languages.tsv)")
    if not docs:
        raise CorpusError(f"{source}: no documents" +
                          (f" in {', '.join(langs)}" if langs else "") + ": check the columns and --langs")
    docs = _sorted_docs(docs)
    return Corpus(name, docs, _parallel(docs) if parallel else frozenset())


def _hub_host() -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return re.sub(r"^[a-z]+://", "", endpoint).split("/")[0].split(":")[0]


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe: without it, `datasets` retries for ~25 s before failing."""
    try:
        with socket.create_connection((_hub_host(), 443), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_already_offline() -> bool:
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
    datasets = _import_datasets(quiet=not progress)
    offline = _hub_already_offline() or not _hub_reachable()
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
        parts.append(_corpus_from_table(ds, dataset_id, label, text_column, lang_column, langs,
                                        parallel, fixed_code=fixed))
    return merge(parts, name=dataset_id) if len(parts) > 1 else parts[0]


def _hub_error(label: str, exc: Exception, offline: bool) -> str:
    if offline:
        return (f"cannot load {label}: the Hugging Face hub is not reachable and the dataset is "
                f"not in the local cache; connect to the internet (or download it once while "
                f"online), or pass a local file with --corpus")
    return (f"cannot load {label} from the Hugging Face hub ({_first_line(exc)}): check the id, "
            f"--config and --split")


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
        corpus = Corpus(path.stem, {_udhr_code(path, root): udhr_documents(root)})
    else:
        corpus = load_table_file(path, text_column=text_column, lang_column=lang_column,
                                 langs=langs, parallel=bool(parallel), num_proc=num_proc,
                                 progress=progress)
    if parallel is not None:
        corpus.parallel_codes = _parallel(corpus.documents) if parallel else frozenset()
    return corpus


def merge(corpora: Sequence[Corpus], *, name: str | None = None) -> Corpus:
    """Pool several corpora: one list of documents per language.

    Parity stays meaningful for a language only if every source is parallel
    and the language comes from exactly the same sources as English.
    """
    if len(corpora) == 1:
        return corpora[0]
    docs: dict[str, list[str]] = {}
    sources: dict[str, set[int]] = {}
    for i, corpus in enumerate(corpora):
        for code, found in corpus.documents.items():
            docs.setdefault(code, []).extend(found)
            sources.setdefault(code, set()).add(i)
    parallel: frozenset[str] = frozenset()
    if all(c.parallel for c in corpora) and ENGLISH in sources:
        parallel = frozenset(c for c in docs if sources[c] == sources[ENGLISH]
                             and all(c in corpora[i].parallel_codes for i in sources[c]))
    return Corpus(name or " + ".join(c.name for c in corpora), _sorted_docs(docs), parallel)

