"""Compression metrics per tokenizer and language, and vocabulary statistics.

``measure(corpus, backends)`` returns one row per tokenizer and language (the
fields are documented in ``qtok.compression``).  It is written for speed:

* documents are NFC-normalized once, and bytes / characters / words are
  counted on that NFC text, the same text every tokenizer receives;
* each tokenizer encodes all documents in a few big batches on native threads
  (``encode_ordinary_batch``), never one call per document;
* the byte-fragment count is a lookup in a per-id boolean table built once
  per vocabulary, indexed with all ids of a batch at once (numpy);
* bytes, characters and words of a language come from one joined string.
"""
from __future__ import annotations

import functools
import itertools
import os
import sys
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .backends import QWEN_LABEL, Backend
from .corpus import Corpus
from .languages import ENGLISH, find, languages, order
from ..normalize import to_nfc

__all__ = ["FIELDS", "measure", "fragment_table", "is_fragment", "char_script", "token_script",
           "vocabulary_scripts", "default_threads"]

#: Row fields, in output order.
FIELDS = ("tokenizer", "code", "name", "documents", "bytes", "chars", "words", "tokens",
          "bytes_per_token", "chars_per_token", "tokens_per_word", "parity", "fragment_share",
          "qwen_ratio")

#: Characters per encode call: big enough to keep the native threads busy,
#: small enough to bound the memory of the id lists and to move a progress bar.
CHUNK_CHARS = 2 << 20
#: Show a progress bar (on a terminal) when more than this many characters
#: are to be tokenized in total (characters x tokenizers): below it a run
#: takes a few seconds at most.
PROGRESS_CHARS = 12 << 20


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # not on Linux
        return max(1, os.cpu_count() or 1)


# -- byte fragments -------------------------------------------------------------------

def is_fragment(token: bytes | None) -> bool:
    """True if the bytes are not a sequence of whole UTF-8 characters (part of
    a multi-byte character, alone or at either end)."""
    if token is None:
        return False
    try:
        token.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def fragment_table(backend: Backend) -> np.ndarray:
    """A boolean per id: does the token decode to something other than whole
    characters?  Built once per backend (about 0.1 s for 150k tokens)."""
    table = getattr(backend, "_fragment_table", None)
    if table is None:
        token_bytes = backend.token_bytes()
        table = np.zeros(len(token_bytes), dtype=bool)
        for i, token in enumerate(token_bytes):
            # isascii() first: most tokens are ASCII and need no decoding.
            if token is not None and not token.isascii():
                table[i] = is_fragment(token)
        backend._fragment_table = table
    return table


# -- scripts of the vocabulary -----------------------------------------------------------

#: First words of Unicode character names that are script names.
_SCRIPT_WORDS = frozenset(
    "LATIN GREEK COPTIC CYRILLIC ARMENIAN HEBREW ARABIC SYRIAC THAANA NKO SAMARITAN MANDAIC "
    "DEVANAGARI BENGALI GURMUKHI GUJARATI ORIYA TAMIL TELUGU KANNADA MALAYALAM SINHALA THAI LAO "
    "TIBETAN MYANMAR GEORGIAN HANGUL ETHIOPIC CHEROKEE CANADIAN OGHAM RUNIC TAGALOG KHMER "
    "MONGOLIAN LIMBU BUGINESE BALINESE SUNDANESE JAVANESE CHAM HIRAGANA KATAKANA BOPOMOFO YI "
    "LISU VAI BAMUM TIFINAGH GLAGOLITIC".split())
#: Names whose first word is not the script.
_SCRIPT_ALIASES = {"CJK": "Han", "IDEOGRAPHIC": "Han", "KANGXI": "Han", "NKO": "NKo",
                   "CANADIAN": "Canadian Aboriginal"}
#: First words of letters that belong to no script in particular: letterlike
#: and mathematical symbols, modifier letters, the kana length mark "ー"
#: (Unicode gives most of these the script Common too).
_NO_SCRIPT_WORDS = frozenset(
    "MODIFIER MATHEMATICAL KATAKANA-HIRAGANA VARIATION SUPERSCRIPT SUBSCRIPT DOUBLE-STRUCK "
    "BLACK-LETTER SCRIPT VERTICAL MICRO PLANCK OHM KELVIN ANGSTROM EULER INFORMATION MASCULINE "
    "FEMININE CIRCLED PARENTHESIZED SQUARED NEGATIVE ROMAN SMALL TURNED CARON MASU ALEF BET "
    "GIMEL DALET".split())
COMMON = "Common"          # no letters: digits, punctuation, symbols, spaces
MIXED = "Mixed"            # letters of two or more scripts
FRAGMENT = "Byte fragment"  # not whole UTF-8 characters
OTHER = "Other scripts"    # letters of a script this table does not name


@functools.lru_cache(maxsize=None)
def char_script(ch: str) -> str | None:
    """The script of a letter or mark, from its Unicode name; None for
    characters that belong to no particular script (digits, punctuation,
    symbols, spaces, combining marks shared by all scripts)."""
    if unicodedata.category(ch)[0] not in "LM":
        return None
    words = unicodedata.name(ch, "").split()
    if words and words[0] in ("FULLWIDTH", "HALFWIDTH"):
        words = words[1:]
    if not words or words[0] == "COMBINING" or words[0] in _NO_SCRIPT_WORDS:
        return None
    first = words[0]
    if first in _SCRIPT_ALIASES:
        return _SCRIPT_ALIASES[first]
    if first in _SCRIPT_WORDS:
        return first.title()
    return OTHER


def token_script(token: bytes | None) -> str | None:
    """The script of a token's text: one script, Mixed, Common, or Byte
    fragment; None for special tokens and unused ids."""
    if token is None:
        return None
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:
        return FRAGMENT
    scripts = {s for s in map(char_script, set(text)) if s is not None}
    if not scripts:
        return COMMON
    return scripts.pop() if len(scripts) == 1 else MIXED


def vocabulary_scripts(backend: Backend) -> list[dict]:
    """How many tokens of the vocabulary decode to text of each script.

    Rows ``{"tokenizer", "script", "tokens", "share", "languages"}``, most
    tokens first; ``languages`` lists the manifest codes written in that script.
    """
    counts: dict[str, int] = {}
    for token in backend.token_bytes():
        script = token_script(token)
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    total = sum(counts.values())
    users: dict[str, list[str]] = {}
    for lang in languages():
        for script in lang.scripts:
            users.setdefault(script, []).append(lang.code)
    return [{"tokenizer": backend.name, "script": script, "tokens": n,
             "share": n / total if total else 0.0, "languages": users.get(script, [])}
            for script, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


# -- corpus metrics --------------------------------------------------------------------------

@dataclass
class _Language:
    """One language's documents (NFC) and the counts that do not depend on the tokenizer."""

    code: str
    docs: list[str]
    bytes: int
    chars: int
    words: int | None


def _clean(text: str) -> str:
    text = to_nfc(text)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates are not UTF-8: tokenizers replace them with
            # U+FFFD, so count the same text they see.
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _prepare(corpus: Corpus, code: str) -> _Language:
    docs = [_clean(t) for t in corpus.documents[code]]
    # One join instead of a loop per document: "\n" separates words and adds
    # exactly one byte and one character between documents.
    joined = "\n".join(docs)
    gaps = max(len(docs) - 1, 0)
    lang = find(code)
    spaced = lang.spaces if lang is not None else True
    return _Language(code, docs, len(joined.encode("utf-8")) - gaps, len(joined) - gaps,
                     len(joined.split()) if spaced else None)


def _chunks(docs: list[str], limit: int) -> list[tuple[int, int, int]]:
    """Consecutive document ranges of about ``limit`` characters: (start, stop, chars)."""
    out: list[tuple[int, int, int]] = []
    start = size = 0
    for i, doc in enumerate(docs):
        size += len(doc)
        if size >= limit:
            out.append((start, i + 1, size))
            start, size = i + 1, 0
    if start < len(docs):
        out.append((start, len(docs), size))
    return out


def _count(backend: Backend, langs: list[_Language], num_threads: int, bar) -> list[tuple[int, int | None]]:
    """(tokens, fragment tokens) per language for one tokenizer."""
    try:
        table = fragment_table(backend)
    except Exception:   # a backend that cannot list its vocabulary: no fragment share
        table = None
    out: list[tuple[int, int | None]] = []
    for lang in langs:
        tokens = frags = 0
        for start, stop, size in _chunks(lang.docs, CHUNK_CHARS):
            ids = backend.encode_batch(lang.docs[start:stop], num_threads)
            if table is None:
                tokens += sum(map(len, ids))
            else:
                flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64)
                tokens += flat.size
                if flat.size:
                    inside = flat < len(table)   # ids beyond the listed vocabulary count as whole
                    frags += int(np.count_nonzero(table[flat[inside]]))
            if bar is not None:
                bar.update(size)
        out.append((tokens, frags if table is not None else None))
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _progress_bar(total: int, progress: bool | None):
    if progress is None:
        progress = total > PROGRESS_CHARS and sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="char", unit_scale=True, desc="tokenizing", file=sys.stderr,
                leave=False)


def measure(corpus: Corpus, backends: Sequence[Backend], *, codes: Sequence[str] | None = None,
            num_threads: int | None = None, progress: bool | None = None) -> list[dict]:
    """One row per tokenizer and language (languages in corpus order, which
    is manifest order; within a language, tokenizers in the given order), for
    the languages in ``codes`` (default: all of the corpus).  English is
    tokenized too when the corpus is parallel, to compute parity, even if it
    is not among ``codes``."""
    report = order(codes) if codes is not None else corpus.codes
    corpus.select(report)   # a CorpusError naming the languages without documents
    work = list(report)
    if ENGLISH in corpus.parallel_codes and ENGLISH not in work:
        work.append(ENGLISH)
    langs = [_prepare(corpus, code) for code in work]
    threads = num_threads or default_threads()
    bar = _progress_bar(sum(lang.chars for lang in langs) * len(backends), progress)
    try:
        counts = [_count(b, langs, threads, bar) for b in backends]
    finally:
        if bar is not None:
            bar.close()

    qwen = next((c for b, c in zip(backends, counts) if b.name == QWEN_LABEL), None)
    en = work.index(ENGLISH) if ENGLISH in corpus.parallel_codes else None
    rows: list[dict] = []
    # Language-major: the tokenizers of one language sit next to each other.
    for i, lang in enumerate(langs[: len(report)]):
        info = find(lang.code)
        for backend, per_lang in zip(backends, counts):
            n, frags = per_lang[i]
            parity = None
            if en is not None and lang.code in corpus.parallel_codes:
                parity = _ratio(n, per_lang[en][0])
            rows.append({
                "tokenizer": backend.name,
                "code": lang.code,
                "name": info.name if info else lang.code,
                "documents": len(lang.docs),
                "bytes": lang.bytes,
                "chars": lang.chars,
                "words": lang.words,
                "tokens": n,
                "bytes_per_token": _ratio(lang.bytes, n),
                "chars_per_token": _ratio(lang.chars, n),
                "tokens_per_word": _ratio(n, lang.words) if lang.words else None,
                "parity": parity,
                "fragment_share": _ratio(frags, n) if frags is not None else None,
                "qwen_ratio": _ratio(qwen[i][0], n) if qwen is not None else None,
            })
    return rows
