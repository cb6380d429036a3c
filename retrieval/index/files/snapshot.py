"""A loaded file version as the `Snapshot` a question reads: FAISS for cosines, bm25s for BM25, the stored sentences."""

from __future__ import annotations


import numpy as np

from retrieval.index.files.versions import IndexVersion
from retrieval.index.protocol import Lexical, SharedReads
from retrieval.index.sentence_table import Sentences
from retrieval.question.spelling import Speller
from retrieval.types import Passage


class FileSnapshot(SharedReads):
    """A loaded file version (retrieval.index.files.versions) and what a search reads from it, immutable: everything
    was made by the build. One implementation of retrieval.index.protocol.Snapshot; a passage's key is its
    position in the version."""

    def __init__(self, version: IndexVersion):
        self.version = version
        self.sentence_index = version.text.sentences
        self.sparse = version.text.sparse
        self.speller = Speller(self.sparse, version.text.all_names)

    # What a front-end reads.
    @property
    def name(self) -> str:
        return self.version.name

    @property
    def model(self) -> str:
        return self.version.model

    @property
    def articles(self):
        return self.version.articles

    @property
    def passage_count(self) -> int:
        return len(self.version.passages)

    def passage(self, passage_id: str) -> Passage | None:
        return self.version.passage(passage_id)

    def passages_of(self, article_id: str) -> list[Passage]:
        return self.version.passages_of(article_id)

    def passage_by_row(self, row: int) -> Passage | None:
        position = self.version.position.get(row)
        return None if position is None else self.version.passages[position]

    # What a search reads.
    def keys_of(self, article_ids) -> np.ndarray:
        return np.array(sorted(i for a in article_ids for i in self.version.positions_of(a)), dtype=np.int64)

    def passage_at(self, key: int) -> Passage:
        return self.version.passages[key]

    def article_id(self, key: int) -> str:
        return self.version.passages.article_id(key)

    def dense_search(self, vector: np.ndarray, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        version = self.version
        if allowed is None:
            return [(version.position[row], score) for row, score in version.dense.search(vector, depth)]
        # A filtered search is exact over the allowed rows.
        scores = version.dense.vectors_of(version.passages.rows[allowed]) @ vector
        return [(int(allowed[i]), float(scores[i])) for i in top(scores, depth)]

    def lexical_search(self, search_terms: list[str], depth: int, allowed: np.ndarray | None) -> "Lexical":
        bm25 = self.sparse.scores(search_terms)
        if allowed is not None:
            mask = np.zeros(len(bm25), dtype=bool)
            mask[allowed] = True
            bm25 = np.where(mask, bm25, 0.0)
        matching = np.flatnonzero(bm25 > 0)  # most passages share no term with the query
        ranking = matching[top(bm25[matching], depth)].tolist()
        return Lexical([(i, float(bm25[i])) for i in ranking], lambda keys: {i: float(bm25[i]) for i in keys})

    def cosines(self, keys: list[int], vector: np.ndarray) -> list[float]:
        return (self.version.dense.vectors_of(self.version.passages.rows[keys]) @ vector).tolist()

    def best_coverage(self, keys: list[int], wanted: dict[str, float]) -> dict[int, float]:
        return self.sentence_index.best_coverage(keys, wanted)

    def sentences_of(self, passage: Passage) -> Sentences:
        """(start, end, terms in order) of each sentence of a passage of this version, offsets in the passage."""
        return self.sentence_index.sentences(self.version.position[passage.row])



def top(scores: np.ndarray, k: int) -> list[int]:
    """Positions of the k highest scores, best first, ties by position.

    A partial selection first: sorting every score of a 100k-passage corpus costs more than the rest
    of a search.
    """
    if len(scores) > k:
        # Everything tied with the k-th best comes along, so the stable sort below breaks ties as a
        # full sort would.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= kth)
    else:
        candidates = np.arange(len(scores))
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return candidates[order].tolist()
