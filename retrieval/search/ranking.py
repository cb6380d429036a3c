"""Find the passages for a query: dense (FAISS), BM25, or both fused."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal

import numpy as np

from retrieval.embed.embedders import Embedder
from retrieval.search.fusion import reciprocal_rank_fusion
from retrieval.question.spelling import Speller
from retrieval.index.files.versions import IndexVersion
from retrieval.index.sentence_table import Sentences
from retrieval.question.query import Query, parse
from retrieval.terms import terms
from retrieval.types import Hit, Passage

if TYPE_CHECKING:
    from retrieval.index.store import Snapshot

Retriever = Literal["dense", "bm25", "rrf", "hybrid"]
RETRIEVERS: tuple[Retriever, ...] = ("dense", "bm25", "rrf", "hybrid")
# "hybrid" scores each candidate by a weighted sum: its cosine, its BM25 score over the best
# candidate's, and how much of the query its best sentence covers. Fitted on XQuAD dev, it beat
# reciprocal rank fusion of the same three rankings ("rrf"): passage hit@1 0.949 against 0.931.
# A passage of an article the conversation has been citing gets W_PREFER more.
W_DENSE, W_BM25, W_SENTENCE, W_PREFER = 1.0, 0.25, 0.75, 0.2
RERANK = 15  # on XQuAD dev 10, 15, 30 and every candidate (up to 100) gave the same figures


class SearchIndex:
    """A loaded file version (retrieval.index.files.versions) and what a search reads from it, immutable: everything
    was made by the build. One implementation of retrieval.index.store.Snapshot; a passage's key is its
    position in the version."""

    def __init__(self, version: IndexVersion):
        self.version = version
        self.sentence_index = version.text.sentences
        self.sparse = version.text.sparse
        self.speller = Speller(self.sparse, version.text.all_names)
        # A title's terms, for the passages the checks read: titles repeat across an article's passages.
        self._title_terms = functools.lru_cache(maxsize=4096)(lambda title: frozenset(terms(title)))

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

    def published_between(self, after: str, before: str) -> set[str]:
        return self.version.published_between(after, before)

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

    def passage_terms(self, passage: Passage) -> frozenset[str]:
        """The terms of a passage's title and text, from its stored sentences."""
        held = {t for _, _, sentence_terms in self.sentences_of(passage) for t in sentence_terms}
        return self._title_terms(passage.title) | held


@dataclass(frozen=True, slots=True)
class Lexical:
    """A lexical (BM25) search: its ranking, best first, and the scores of any passages asked for."""

    ranking: list[tuple[int, float]]
    scores: Callable[[list[int]], dict[int, float]]


def search(index: Snapshot, embedder: Embedder, query: Query | str, k: int = 10, retriever: Retriever = "hybrid",
           depth: int = 50) -> list[Hit]:
    """The k best passages for `query`, best first, each with its cosine to the query.

    A Query's `article_ids` restrict the search to those articles; passages of its `prefer`red articles
    (the ones a conversation has been citing) rank higher. A plain string is searched as it is.
    BM25 alone and "rrf" rank by reciprocal rank fusion. `index` is any store's snapshot: passages are
    named by its keys.
    """
    if isinstance(query, str):
        query = parse(query, index.sparse)
    allowed = None
    if query.article_ids is not None:
        allowed = index.keys_of(query.article_ids)
        if not len(allowed):
            return []
    # The query is embedded even for BM25 alone: the cosines tell `ask` whether anything is relevant.
    query_vector = embedder.encode([query.search_query])[0]
    rankings: list[list[int]] = []
    cosine: dict[int, float] = {}
    if retriever != "bm25":
        dense = index.dense_search(query_vector, depth, allowed)
        cosine.update(dense)
        rankings.append([i for i, _ in dense])
    lexical = None
    if retriever != "dense":
        lexical = index.lexical_search(list(query.search_terms), depth, allowed)
        rankings.append([i for i, _ in lexical.ranking])
    candidates = sorted({i for ranking in rankings for i in ranking})
    missing = [i for i in candidates if i not in cosine]
    if missing:
        cosine.update(zip(missing, index.cosines(missing, query_vector)))

    prefer = query.prefer
    if retriever == "hybrid":
        fused = _weighted_sum(index, query, candidates, cosine, lexical.scores(candidates) if candidates else {})
    else:
        if retriever == "rrf" and candidates:
            best = index.best_coverage(candidates, query.search_wanted)
            rankings.append(sorted(candidates, key=lambda i: -best[i]))
        if prefer:
            rankings.append(sorted((i for i in candidates if index.article_id(i) in prefer), key=lambda i: -cosine[i]))
        fused = reciprocal_rank_fusion(rankings)
    order = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    return [Hit(index.passage_at(i), score=float(fused[i]), dense=cosine.get(i)) for i in order]


def _weighted_sum(index: Snapshot, query: Query, candidates: list[int], cosine: dict[int, float],
                  bm25: dict[int, float]) -> dict[int, float]:
    if not candidates:
        return {}
    top_bm25 = max(bm25.get(i, 0.0) for i in candidates) or 1.0
    score = {i: W_DENSE * cosine[i] + W_BM25 * bm25.get(i, 0.0) / top_bm25
             + (W_PREFER if index.article_id(i) in query.prefer else 0.0) for i in candidates}
    # Only the RERANK best by the cheap signals can move up for their best sentence: an answer is a
    # sentence, and a passage-level score dilutes it among its neighbours.
    head = sorted(candidates, key=lambda i: (-score[i], i))[:RERANK]
    for i, covered in index.best_coverage(head, query.search_wanted).items():
        score[i] += W_SENTENCE * covered
    return score


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


def diversify(hits: list[Hit], most_shared: float = 0.5) -> list[Hit]:
    """Drop a hit that mostly repeats a better hit of the same article.

    Neighbouring windows share one sentence and are kept (the rest of their text is new); a window
    whose text is more than `most_shared` inside a better one would only crowd the citations.
    """
    kept: list[Hit] = []
    for hit in hits:
        p = hit.passage
        if not any(k.passage.article_id == p.article_id and _shared(k.passage, p) > most_shared for k in kept):
            kept.append(hit)
    return kept


def _shared(a: Passage, b: Passage) -> float:
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return max(0, overlap) / max(1, min(a.end - a.start, b.end - b.start))
