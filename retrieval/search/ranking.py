"""Find the passages for a query: dense (FAISS), BM25, or both fused."""

from __future__ import annotations

from typing import Literal


from retrieval.embed.embedders import Embedder
from retrieval.index.protocol import Snapshot
from retrieval.parameters import FITTED
from retrieval.question.query import Query, parse
from retrieval.search.fusion import reciprocal_rank_fusion
from retrieval.types import Hit, Passage

Retriever = Literal["dense", "bm25", "rrf", "hybrid"]
RETRIEVERS: tuple[Retriever, ...] = ("dense", "bm25", "rrf", "hybrid")
# "hybrid" scores each candidate by a weighted sum: its cosine, its BM25 score over the best
# candidate's, and how much of the query its best sentence covers (weights fitted on the tuning parts by
# benchmarks/fit_answer.py). On XQuAD dev it beat reciprocal rank fusion of the same three rankings
# ("rrf"): passage hit@1 0.949 against 0.931.
# A passage of an article the conversation has been citing gets W_PREFER more.
W_DENSE, W_BM25, W_SENTENCE, W_PREFER = (FITTED["search"][n] for n in ("W_DENSE", "W_BM25", "W_SENTENCE", "W_PREFER"))
RERANK = RERANK_SHIPPED = FITTED["search"]["RERANK"]  # on the tuning parts 5, 10, 15, 30 and 100 gave the same figures


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
