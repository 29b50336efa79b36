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
    sources: dict[str, set[int]] = {}
    for i, corpus in enumerate(corpora):
        for code, found in corpus.documents.items():
            docs.setdefault(code, []).extend(found)
            sources.setdefault(code, set()).add(i)
    parallel: frozenset[str] = frozenset()
    if all(c.parallel for c in corpora) and ENGLISH in sources:
        parallel = frozenset(c for c in docs if sources[c] == sources[ENGLISH]
                             and all(c in corpora[i].parallel_codes for i in sources[c]))
    return Corpus(name or " + ".join(c.name for c in corpora), sorted_documents(docs), parallel)
