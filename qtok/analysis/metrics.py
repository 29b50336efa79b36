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
import math
import sys
import unicodedata
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .backends import QWEN_LABEL, Backend, flat_ids
from .corpus import Corpus
from .languages import ENGLISH, find, languages, order
from ..normalize import to_nfc

__all__ = ["FIELDS", "RENYI_ALPHA", "renyi_entropy", "renyi_efficiency", "vocabulary_size",
           "deflate_size", "pair_premium", "Sums", "measure", "measure_documents", "rows_from_sums", "fragment_table", "is_fragment", "char_script", "token_script",
           "vocabulary_scripts", "default_threads"]

#: Row fields, in output order.
FIELDS = ("tokenizer", "code", "name", "documents", "bytes", "chars", "words", "tokens",
          "bytes_per_token", "chars_per_token", "tokens_per_word", "parity", "pair_premium", "fragment_share",
          "qwen_ratio", "continued_words", "continued_share", "byte_premium",
          "vocab_size", "distinct_ids", "vocab_use", "script_vocab_use", "renyi_efficiency", "shannon_efficiency", "bits_per_byte", "deflate_bits_per_byte")

#: The order of the Rényi entropy in ``renyi_efficiency`` unless told
#: otherwise: 2.5, the value Zouhar et al. (2023) found to correlate best
#: with downstream quality.
RENYI_ALPHA = 2.5

#: Characters per encode call: big enough to keep the native threads busy,
#: small enough to bound the memory of the id lists and to move a progress bar.
CHUNK_CHARS = 2 << 20
#: Show a progress bar (on a terminal) when more than this many bytes are to
#: be tokenized in total (bytes x tokenizers): below it a run takes a few
#: seconds at most.
PROGRESS_BYTES = 16 << 20


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


# -- corpus metrics: sums that merge ---------------------------------------------------
#
# Every number of the report is a ratio of sums over documents: per language,
# documents, bytes, characters and words; per tokenizer and language, tokens
# and byte-fragment tokens.  So a report over many shards is the merge (the
# addition) of the sums of each shard, identical to one pass over all of
# them, and the Ray engine (qtok.analysis.ray_engine) computes exactly what
# the local one does: both call measure_documents, on all documents or on a
# shard's.

@dataclass
class Sums:
    """The report's sums.  ``languages[code]``: documents, bytes, chars and
    words (None for a language written without spaces); ``tokens[name][code]``:
    tokens and fragments (None when the tokenizer cannot list its vocabulary)."""

    languages: dict[str, dict[str, int | None]]
    tokens: dict[str, dict[str, dict[str, int | None]]]

    @classmethod
    def empty(cls) -> "Sums":
        return cls({}, {})

    def merge(self, other: "Sums") -> "Sums":
        """Add other's sums to these (in place); returns self."""
        for code, counts in other.languages.items():
            mine = self.languages.setdefault(code, dict.fromkeys(counts, 0))
            for key, value in counts.items():
                mine[key] = _add(mine.get(key, 0), value)
        for name, per_lang in other.tokens.items():
            for code, counts in per_lang.items():
                mine = self.tokens.setdefault(name, {}).setdefault(code, {})
                for key, value in counts.items():
                    if key == "id_counts":
                        mine[key] = _add_counts(mine.get(key, {}), value)
                    elif key == "doc_tokens":      # tokens per alignment key
                        mine[key] = (None if value is None or mine.get(key, {}) is None
                                     else _add_counts(mine.get(key, {}), value))
                    else:
                        mine[key] = _add(mine.get(key, 0), value)
        return self

    def to_json(self) -> dict:
        """A JSON-able copy: id counts as [[id, count], ...] (JSON keys are strings)."""
        tokens = {name: {code: {k: (sorted(v.items()) if k == "id_counts" else v)
                                for k, v in counts.items()}
                         for code, counts in per_lang.items()}
                  for name, per_lang in self.tokens.items()}
        return {"languages": self.languages, "tokens": tokens}

    @classmethod
    def from_json(cls, data: dict) -> "Sums":
        tokens = {name: {code: {k: ({int(i): int(n) for i, n in v} if k == "id_counts" else v)
                                for k, v in counts.items()}
                         for code, counts in per_lang.items()}
                  for name, per_lang in data["tokens"].items()}
        return cls(data["languages"], tokens)


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _add_counts(mine: dict[int, int], other: dict[int, int]) -> dict[int, int]:
    for i, n in other.items():
        mine[i] = mine.get(i, 0) + n
    return mine


def deflate_size(data: bytes) -> int:
    """Bytes of data compressed alone by raw DEFLATE (zlib level 9, no header
    or checksum): the compressor baseline of one document."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return len(packer.compress(data)) + len(packer.flush())


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


def language_sums(code: str, docs: list[str], deflate: bool = False) -> dict[str, int | None]:
    """documents, bytes, chars and words of docs (already cleaned: NFC), and
    with deflate their DEFLATE-compressed bytes (None otherwise)."""
    # One join instead of a loop per document: "\n" separates words and adds
    # exactly one byte and one character between documents.
    joined = "\n".join(docs)
    gaps = max(len(docs) - 1, 0)
    lang = find(code)
    spaced = lang.spaces if lang is not None else True
    return {"documents": len(docs), "bytes": len(joined.encode("utf-8")) - gaps,
            "chars": len(joined) - gaps, "words": len(joined.split()) if spaced else None,
            "deflate_bytes": (sum(deflate_size(d.encode("utf-8")) for d in docs)
                              if deflate else None)}


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


# -- words in context ---------------------------------------------------------------
#
# A word is a maximal run of non-whitespace (str.split's words); the
# whitespace before a word belongs to it, as byte-level tokenizers glue a
# leading space to the word.  A token belongs to the word its first byte is
# in, so each word's tokens are counted as the word was tokenized inside its
# text (never re-tokenized alone, which would drop its leading space).

#: Past this code point no character is whitespace to str.isspace (the last is U+3000).
_WHITESPACE_LIMIT = 0x3100


@functools.lru_cache(maxsize=1)
def _is_whitespace() -> np.ndarray:
    """A flag per code point below _WHITESPACE_LIMIT: str.isspace()."""
    return np.array([chr(c).isspace() for c in range(_WHITESPACE_LIMIT)], dtype=bool)


def _in_word(points: np.ndarray) -> np.ndarray:
    # U+0000 is not whitespace, so code points past the table look it up instead.
    return ~_is_whitespace()[np.where(points < _WHITESPACE_LIMIT, points, 0)]


def token_byte_lengths(backend: Backend) -> np.ndarray | None:
    """The UTF-8 length of each id's bytes (0 where unknown), or None; kept on
    the backend, as a Ray worker measures many batches with the same one."""
    cached = getattr(backend, "_qtok_byte_lengths", False)
    if cached is not False:
        return cached
    try:
        spelled = backend.token_bytes()
    except Exception:
        lengths = None
    else:
        lengths = np.fromiter((len(b) if b else 0 for b in spelled), dtype=np.int64,
                              count=len(spelled))
    try:
        backend._qtok_byte_lengths = lengths
    except AttributeError:          # a backend object that takes no attributes
        pass
    return lengths


def _utf8_lengths(points: np.ndarray) -> np.ndarray:
    return 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)


def _doc_starts(doc_bytes: np.ndarray) -> np.ndarray:
    """Where each document starts in the documents joined by newlines."""
    return np.cumsum(doc_bytes + 1) - (doc_bytes + 1)


def continued_words(docs: list[str], token_at: np.ndarray, token_doc: np.ndarray,
                    doc_bytes: np.ndarray) -> tuple[int, int]:
    """(words, words of two or more tokens) of docs.  token_at: where each
    token starts, as a byte offset into the documents joined by newlines;
    token_doc: the document each token is of; doc_bytes: each document's
    UTF-8 length."""
    joined = "\n".join(docs)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    utf8_len = _utf8_lengths(points)
    byte_end = np.cumsum(utf8_len)                    # exclusive byte end of each character
    in_word = _in_word(points)
    edges = np.diff(np.concatenate(([False], in_word, [False])).astype(np.int8))
    word_end_chars = np.flatnonzero(edges == -1)       # exclusive char ends
    word_start_chars = np.flatnonzero(edges == 1)
    n_words = word_end_chars.size
    if not n_words or not token_at.size:
        return n_words, 0
    word_end = byte_end[word_end_chars - 1]
    word_start = byte_end[word_start_chars] - utf8_len[word_start_chars]
    word = np.searchsorted(word_end, token_at, side="right")   # first word ending after it
    inside = word < n_words
    word, token_doc = word[inside], token_doc[inside]
    # Trailing whitespace of a document belongs to no word of the next one.
    word_doc = np.searchsorted(_doc_starts(doc_bytes), word_start, side="right") - 1
    own = word_doc[word] == token_doc
    per_word = np.bincount(word[own], minlength=n_words)
    return n_words, int(np.count_nonzero(per_word >= 2))


def token_starts(backend: Backend, docs: list[str], flat: np.ndarray, token_doc: np.ndarray,
                 doc_bytes: np.ndarray, lengths: np.ndarray | None) -> np.ndarray | None:
    """Where each token starts, as a byte offset into the documents joined by
    newlines, or None if the tokenizer cannot say.  From the ids' byte lengths
    when they add up to each document (byte-level BPE), else from the
    tokenizer's own offsets (in bytes, or in characters)."""
    if lengths is not None and (not flat.size or int(flat.max()) < lengths.size):
        lens = lengths[flat]
        per_doc = np.bincount(token_doc, weights=lens, minlength=len(docs))
        if lens.all() and np.array_equal(per_doc, doc_bytes):
            # Tokens tile each document, and one newline byte separates documents.
            return np.cumsum(lens) - lens + token_doc
    doc_start = _doc_starts(doc_bytes)
    byte_starts = getattr(backend, "byte_starts", None)
    if byte_starts is not None:
        parts = [np.asarray(starts, dtype=np.int64) + doc_start[k]
                 for k, starts in enumerate(byte_starts(docs))]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    char_starts = getattr(backend, "char_starts", None)
    if char_starts is None:
        return None
    parts = []
    for k, (doc, chars) in enumerate(zip(docs, char_starts(docs))):
        points = np.frombuffer(doc.encode("utf-32-le"), dtype=np.uint32)
        before = np.concatenate(([0], np.cumsum(_utf8_lengths(points))))
        parts.append(before[np.asarray(chars, dtype=np.int64)] + doc_start[k])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def encode_flat(backend: Backend, docs: list[str], num_threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(every id of docs in order, the number of ids of each document)."""
    flat_encoder = getattr(backend, "encode_flat", None)
    if flat_encoder is not None:
        return flat_encoder(docs, num_threads)
    return flat_ids(backend.encode_batch(docs, num_threads))


def token_sums(backend: Backend, docs: list[str], num_threads: int, table,
               bar=None, *, spaced: bool = True, lengths=None,
               keys: Sequence[str] | None = None) -> dict[str, int | None]:
    """tokens and fragment tokens of docs for one tokenizer (table: its
    fragment_table, or None), their id counts, (spaced languages) the words
    that take two or more tokens in context, and given each document's
    alignment key, the tokens per key (for the per-pair premium)."""
    tokens = frags = 0
    doc_tokens: dict[str, int] | None = {} if keys is not None else None
    continued: int | None = 0 if spaced else None
    id_counts: dict[int, int] = {}
    for start, stop, _ in _chunks(docs, CHUNK_CHARS):
        part = docs[start:stop]
        flat, counts = encode_flat(backend, part, num_threads)
        doc_bytes = np.fromiter((len(d.encode("utf-8")) for d in part), dtype=np.int64,
                                count=len(part))
        if continued is not None:
            token_doc = np.repeat(np.arange(len(part)), counts)
            token_at = token_starts(backend, part, flat, token_doc, doc_bytes, lengths)
            continued = None if token_at is None else continued + continued_words(
                part, token_at, token_doc, doc_bytes)[1]
        tokens += flat.size
        if doc_tokens is not None:
            for key, n in zip(keys[start:stop], counts.tolist()):
                doc_tokens[key] = doc_tokens.get(key, 0) + n
        if table is not None and flat.size:
            inside = flat < len(table)   # ids beyond the listed vocabulary count as whole
            frags += int(np.count_nonzero(table[flat[inside]]))
        used, times = np.unique(flat, return_counts=True)
        _add_counts(id_counts, dict(zip(used.tolist(), times.tolist())))
        if bar is not None and bar.active:
            bar.update(int(doc_bytes.sum()), stop - start)
    return {"tokens": tokens, "fragments": frags if table is not None else None,
            "continued_words": continued, "id_counts": id_counts, "doc_tokens": doc_tokens}


def fragment_tables(backends: Sequence[Backend]) -> list:
    out = []
    for backend in backends:
        try:
            out.append(fragment_table(backend))
        except Exception:   # a backend that cannot list its vocabulary: no fragment share
            out.append(None)
    return out


def measure_documents(documents: dict[str, list[str]], backends: Sequence[Backend], *,
                      num_threads: int, tables=None, bar=None, deflate: bool = False,
                      keys: dict[str, Sequence[str]] | None = None) -> Sums:
    """The sums of documents ({code: texts}, as given: cleaned here) for
    every backend; for the languages in ``keys`` ({code: the alignment key
    of each document}), the tokens per key too."""
    keys = keys or {}
    tables = fragment_tables(backends) if tables is None else tables
    lengths = [token_byte_lengths(b) for b in backends]
    sums = Sums.empty()
    for code, texts in documents.items():
        docs = [_clean(t) for t in texts]
        sums.languages[code] = language_sums(code, docs, deflate)
        spaced = sums.languages[code]["words"] is not None
        for backend, table, lens in zip(backends, tables, lengths):
            sums.tokens.setdefault(backend.name, {})[code] = token_sums(
                backend, docs, num_threads, table, bar, spaced=spaced, lengths=lens,
                keys=keys.get(code))
    return sums


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


class Progress:
    """A progress bar of bytes done, with rows per second beside it (tqdm,
    when installed and wanted); update(bytes, rows)."""

    def __init__(self, total_bytes: int | None, progress: bool | None, what: str = "tokenizing"):
        self.bar = None
        self.active = False
        self.rows = 0
        if progress is None:
            progress = (total_bytes is None or total_bytes > PROGRESS_BYTES) and sys.stderr.isatty()
        if not progress:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.active = True
        self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1000,
                        desc=what, file=sys.stderr, leave=False)

    def update(self, n_bytes: int, n_rows: int) -> None:
        if self.bar is None:
            return
        self.rows += n_rows
        self.bar.update(n_bytes)
        elapsed = self.bar.format_dict.get("elapsed") or 0
        if elapsed > 0:
            self.bar.set_postfix_str(f"{self.rows / elapsed:,.0f} rows/s", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def measure(corpus: Corpus, backends: Sequence[Backend], *, codes: Sequence[str] | None = None,
            num_threads: int | None = None, progress: bool | None = None,
            renyi_alpha: float = RENYI_ALPHA, deflate: bool = False) -> list[dict]:
    """One row per tokenizer and language (languages in corpus order, which
    is manifest order; within a language, tokenizers in the given order), for
    the languages in ``codes`` (default: all of the corpus).  English is
    tokenized too when the corpus is parallel, to compute parity, even if it
    is not among ``codes``."""
    renyi_alpha = check_alpha(renyi_alpha)      # before the work, not after it
    report = order(codes) if codes is not None else corpus.codes
    corpus.select(report)   # a CorpusError naming the languages without documents
    work = list(report)
    if ENGLISH in corpus.parallel_codes and ENGLISH not in work:
        work.append(ENGLISH)
    threads = num_threads or default_threads()
    total = 0
    if progress is not False:
        total = sum(len(t.encode("utf-8", "surrogatepass")) for c in work for t in corpus.documents[c])
    bar = Progress(total * len(backends), progress)
    try:
        sums = measure_documents({c: corpus.documents[c] for c in work}, backends,
                                 num_threads=threads, bar=bar, deflate=deflate,
                                 keys={c: corpus.alignment_keys(c) for c in work
                                       if c in corpus.parallel_codes
                                       and corpus.alignment_keys(c) is not None})
    finally:
        bar.close()
    return rows_from_sums(sums, [b.name for b in backends], report, corpus.parallel_codes,
                          vocab_sizes={b.name: vocabulary_size(b) for b in backends},
                          renyi_alpha=renyi_alpha)


def vocabulary_size(backend: Backend) -> int | None:
    """|V|: the ids the tokenizer can emit, special and added tokens included."""
    encoding = getattr(backend, "encoding", None)
    if encoding is not None and hasattr(encoding, "n_vocab"):
        return int(encoding.n_vocab)
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is not None and hasattr(tokenizer, "get_vocab_size"):
        return int(tokenizer.get_vocab_size(with_added_tokens=True))
    try:
        return len(backend.token_bytes())
    except Exception:
        return None


def renyi_entropy(id_counts: dict[int, int], alpha: float) -> float | None:
    """H_alpha of the unigram distribution p of the ids, in nats:
    log(sum p_i**alpha) / (1 - alpha); Shannon's -sum p_i log p_i at alpha = 1."""
    if not id_counts:
        return None
    # In id order, so that the float sum does not depend on the order the
    # shards were merged in.
    counts = np.fromiter((id_counts[i] for i in sorted(id_counts)), dtype=np.float64,
                         count=len(id_counts))
    p = counts / counts.sum()
    if alpha == 1.0:
        return float(-(p * np.log(p)).sum())
    return float(math.log(float((p ** alpha).sum())) / (1.0 - alpha))


def renyi_efficiency(id_counts: dict[int, int], vocab_size: int | None,
                     alpha: float = RENYI_ALPHA) -> float | None:
    """Zouhar et al.'s efficiency: H_alpha(p) / log |V| (between 0 and 1)."""
    h = renyi_entropy(id_counts, alpha)
    if h is None or not vocab_size or vocab_size < 2:
        return None
    return h / math.log(vocab_size)


def pair_premium(doc_tokens: dict[str, int] | None,
                 english: dict[str, int] | None) -> float | None:
    """TokSuite's per-pair premium: the mean over aligned pairs of
    tokens(unit) / tokens(the same unit in English), a unit being the
    documents of one alignment key (a UDHR article, a FLORES sentence, a line
    of the bundled corpus).  Pairs are the keys both languages have whose
    English side has tokens; None without any."""
    if doc_tokens is None or english is None:
        return None
    common = sorted(k for k in doc_tokens.keys() & english.keys() if english[k] > 0)
    if not common:
        return None
    mine = np.fromiter((doc_tokens[k] for k in common), dtype=np.float64, count=len(common))
    theirs = np.fromiter((english[k] for k in common), dtype=np.float64, count=len(common))
    return float((mine / theirs).mean())


def _script_of(code: str) -> str:
    lang = find(code)
    return lang.script if lang is not None else code


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"the Rényi order must be a positive number, got {alpha!r}")
    return alpha


def rows_from_sums(sums: Sums, names: Sequence[str], report: Sequence[str],
                   parallel: frozenset[str] | set[str], *,
                   vocab_sizes: dict[str, int | None] | None = None,
                   renyi_alpha: float = RENYI_ALPHA) -> list[dict]:
    """The report's rows from its sums: for the languages in report (in that
    order) and the tokenizers names (in that order)."""
    vocab_sizes = vocab_sizes or {}
    qwen = sums.tokens.get(QWEN_LABEL) if QWEN_LABEL in names else None
    # Per tokenizer and script: the ids that the text of all its languages uses.
    script_ids: dict[tuple[str, str], set[int] | None] = {}
    for name in names:
        for code, counts in sums.tokens.get(name, {}).items():
            key = (name, _script_of(code))
            used = counts.get("id_counts")
            if used is None or script_ids.get(key, set()) is None:
                script_ids[key] = None
            else:
                script_ids.setdefault(key, set()).update(used)
    has_en = ENGLISH in parallel and ENGLISH in sums.languages
    rows: list[dict] = []
    # Language-major: the tokenizers of one language sit next to each other.
    for code in report:
        lang = sums.languages[code]
        info = find(code)
        for name in names:
            counts = sums.tokens[name][code]
            n, frags = counts["tokens"], counts["fragments"]
            id_counts = counts.get("id_counts")
            size = vocab_sizes.get(name)
            parity = pair = None
            if has_en and code in parallel:
                parity = _ratio(n, sums.tokens[name][ENGLISH]["tokens"])
                pair = pair_premium(counts.get("doc_tokens"),
                                    sums.tokens[name][ENGLISH].get("doc_tokens"))
            rows.append({
                "tokenizer": name,
                "code": code,
                "name": info.name if info else code,
                "documents": lang["documents"],
                "bytes": lang["bytes"],
                "chars": lang["chars"],
                "words": lang["words"],
                "tokens": n,
                "bytes_per_token": _ratio(lang["bytes"], n),
                "chars_per_token": _ratio(lang["chars"], n),
                "tokens_per_word": _ratio(n, lang["words"]) if lang["words"] else None,
                "parity": parity,
                "pair_premium": pair,
                "fragment_share": _ratio(frags, n) if frags is not None else None,
                "qwen_ratio": _ratio(qwen[code]["tokens"], n) if qwen is not None else None,
                "continued_words": counts.get("continued_words"),
                "continued_share": (_ratio(counts["continued_words"], lang["words"])
                                    if counts.get("continued_words") is not None
                                    and lang["words"] else None),
                "byte_premium": (_ratio(lang["bytes"], sums.languages[ENGLISH]["bytes"])
                                 if has_en and code in parallel else None),
                "vocab_size": size,
                "distinct_ids": len(id_counts) if id_counts is not None else None,
                "vocab_use": (_ratio(len(id_counts), size)
                              if id_counts is not None and size else None),
                "script_vocab_use": (_ratio(len(script_ids[(name, _script_of(code))]), size)
                                     if script_ids.get((name, _script_of(code))) is not None
                                     and size else None),
                "renyi_efficiency": (renyi_efficiency(id_counts, size, renyi_alpha)
                                     if id_counts is not None else None),
                "shannon_efficiency": (renyi_efficiency(id_counts, size, 1.0)
                                       if id_counts is not None else None),
                "bits_per_byte": (_ratio(n * math.log2(size), lang["bytes"])
                                  if size and size > 1 else None),
                "deflate_bits_per_byte": (_ratio(8 * lang["deflate_bytes"], lang["bytes"])
                                          if lang.get("deflate_bytes") is not None else None),
            })
    return rows
