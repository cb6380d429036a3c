"""The BM25 index over passages (bm25s), built in memory from a loaded version."""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

import numpy as np


class SparseIndex:
    def __init__(self, documents: Iterable[list[str]]):
        """`documents`: each document's terms (retrieval.terms), in order."""
        import bm25s

        tokenized = [d or ["\u2400"] for d in documents]  # bm25s needs one token a document
        self.size = len(tokenized)
        self.bm25 = bm25s.BM25()
        self.bm25.index(tokenized, show_progress=False)
        frequency = Counter(t for doc in tokenized for t in set(doc))
        # A term no passage contains is the most telling of all: it gets the highest weight.
        self.idf = {t: math.log((self.size + 1) / (df + 0.5)) for t, df in frequency.items()}
        self.unseen_idf = math.log((self.size + 1) / 0.5)

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unseen_idf)

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every passage, in passage order."""
        known = [t for t in query_terms if t in self.idf]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return self.bm25.get_scores(known)
