"""A corpus: documents per language, and how corpora are pooled.

The one data type of the analyser's input side.  The loaders (qtok.analysis.
corpora, .tables, .hub) make Corpus objects; the metrics read them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..errors import CorpusError
from .languages import ENGLISH, order

__all__ = ["Corpus", "merge", "sorted_documents", "parallel_codes"]


@dataclass
class Corpus:
    """Documents per language.

    ``parallel_codes`` holds the languages whose documents say the same as the
    English ones (so tokens / English tokens -- parity -- means something);
    it is empty for monolingual collections such as Leipzig.

    ``keys[code]``, where known, names the unit of the text each document is
    part of ("article 3" of the UDHR, a FLORES sentence id): documents of two
    languages with the same key say the same thing, which the per-pair
    premium needs.  A language without keys is aligned by position when
    ``by_position`` (the lines of parallel .txt files), else not at all (the
    rows of a table without an id column).
    """

    name: str
    documents: dict[str, list[str]]
    parallel_codes: frozenset[str] = field(default_factory=frozenset)
    keys: dict[str, list[str]] = field(default_factory=dict)
    by_position: bool = True

    @property
    def parallel(self) -> bool:
        return bool(self.parallel_codes)

    @property
    def codes(self) -> list[str]:
        return list(self.documents)

    def alignment_keys(self, code: str) -> list[str] | None:
        """The alignment key of each document of a language (its position when
        the corpus gives none and is aligned by position), or None."""
        keys = self.keys.get(code)
        if keys is not None or not self.by_position:
            return keys
        return [str(i) for i in range(len(self.documents[code]))]

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
                      self.parallel_codes & set(codes),
                      {c: self.keys[c] for c in codes if c in self.keys}, self.by_position)


def sorted_documents(docs: dict[str, list[str]]) -> dict[str, list[str]]:
    return {code: docs[code] for code in order(docs)}


def parallel_codes(codes: Iterable[str]) -> frozenset[str]:
    codes = frozenset(codes)
    return codes if ENGLISH in codes else frozenset()


def merge(corpora: Sequence[Corpus], *, name: str | None = None) -> Corpus:
    """Pool several corpora: one list of documents per language.

    Parity stays meaningful for a language only if every source is parallel
    and the language comes from exactly the same sources as English.
    """
    if len(corpora) == 1:
        return corpora[0]
    docs: dict[str, list[str]] = {}
    keys: dict[str, list[str] | None] = {}
    sources: dict[str, set[int]] = {}
    for i, corpus in enumerate(corpora):
        for code, found in corpus.documents.items():
            docs.setdefault(code, []).extend(found)
            # A source's own keys (UDHR sections, table ids) name the same unit
            # in every source; positions are a source's own, so they get its
            # number; a source without either leaves the language unaligned.
            own = corpus.alignment_keys(code)
            if own is not None and corpus.keys.get(code) is None:
                own = [f"{i}/{k}" for k in own]
            before = keys.get(code, [])
            keys[code] = None if own is None or before is None else before + own
            sources.setdefault(code, set()).add(i)
    parallel: frozenset[str] = frozenset()
    if all(c.parallel for c in corpora) and ENGLISH in sources:
        parallel = frozenset(c for c in docs if sources[c] == sources[ENGLISH]
                             and all(c in corpora[i].parallel_codes for i in sources[c]))
    return Corpus(name or " + ".join(c.name for c in corpora), sorted_documents(docs), parallel,
                  {c: k for c, k in keys.items() if k is not None}, by_position=False)
