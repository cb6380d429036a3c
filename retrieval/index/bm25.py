"""The BM25 index over passages (bm25s) and the corpus's one vocabulary and IDF, written with a version.

A build numbers every term once (`vocabulary`: term -> id) and indexes each passage's term ids; the
sentence index stores the same ids. bm25s's own save and load, memory-mapped, make loading a version
a matter of reading files. The IDF is read off the BM25 matrix itself: its column of a term lists the
passages that hold it, so a term's document frequency is that column's length.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from retrieval.terms import terms

EMPTY = "\u2400"  # the one token of a passage without terms: bm25s needs one a document
FILES = ("bm25/params.index.json", "bm25/vocab.index.json", "bm25/data.csc.index.npy",
         "bm25/indices.csc.index.npy", "bm25/indptr.csc.index.npy")


def idf(passages: int, frequency):
    """The weight of a term held by `frequency` of the corpus's `passages` (either may be an array).
    A term no passage contains is the most telling of all: it gets the highest weight."""
    return np.log((passages + 1) / (np.asarray(frequency) + 0.5))


class TermWeights(Mapping[str, float]):
    """term -> IDF from document frequencies kept elsewhere (a Milvus store's corpus statistics):
    the same weights as a SparseIndex over the same passages."""

    def __init__(self, frequency: dict[str, int], passages: int):
        self.frequency = frequency
        self.size = passages
        self.unseen_idf = float(idf(passages, 0))

    def weight(self, term: str) -> float:
        return self[term] if term in self else self.unseen_idf

    def __getitem__(self, term: str) -> float:
        return float(idf(self.size, self.frequency[term]))

    def __contains__(self, term: object) -> bool:
        return term in self.frequency and term != EMPTY

    def __iter__(self) -> Iterator[str]:
        return (t for t in self.frequency if t != EMPTY)

    def __len__(self) -> int:
        return len(self.frequency) - (EMPTY in self.frequency)


class SparseIndex(Mapping[str, float]):
    """BM25 scores, and as a mapping: term -> IDF, for the terms some passage holds."""

    def __init__(self, bm25):
        self.bm25 = bm25
        self.vocabulary: dict[str, int] = bm25.vocab_dict
        self.size = int(bm25.scores["num_docs"])
        frequency = np.diff(np.asarray(bm25.scores["indptr"]))
        self.terms = len(frequency)  # the matrix's columns: one a vocabulary term
        self.idf = idf(self.size, frequency)
        self.unseen_idf = math.log((self.size + 1) / 0.5)

    @classmethod
    def build(cls, documents: Sequence[Sequence[int]], vocabulary: dict[str, int]) -> "SparseIndex":
        """`documents`: each passage's term ids (numbered by `vocabulary`, which holds EMPTY), in order."""
        import bm25s

        empty = vocabulary[EMPTY]
        bm25 = bm25s.BM25()
        bm25.index(([list(d) or [empty] for d in documents], vocabulary), create_empty_token=False, show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self.bm25.save(Path(folder) / "bm25", show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "SparseIndex":
        import bm25s

        # Memory-mapped: a question reads only its terms' columns.
        return cls(bm25s.BM25.load(Path(folder) / "bm25", mmap=True, show_progress=False))

    def weight(self, term: str) -> float:
        i = self.vocabulary.get(term)
        return self.unseen_idf if i is None else float(self.idf[i])

    def __getitem__(self, term: str) -> float:
        return float(self.idf[self.vocabulary[term]])

    def __contains__(self, term: object) -> bool:
        return term in self.vocabulary and term != EMPTY

    def __iter__(self) -> Iterator[str]:
        return (t for t in self.vocabulary if t != EMPTY)

    def __len__(self) -> int:
        return len(self.vocabulary) - (EMPTY in self.vocabulary)

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every passage, in passage order."""
        known = [self.vocabulary[t] for t in query_terms if t in self]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return self.bm25.get_scores(known)


def heading_terms(title: str, date: str | None) -> list[str]:
    """What BM25 reads of a passage besides its sentences: its heading, whose title names what the
    sentences take for granted. Both stores index exactly these."""
    return terms(f"{title} {date or ''}")
