"""What a question reads from a Milvus generation: the headings and term weights held, passages fetched per question."""

from __future__ import annotations

import collections
import functools
import json
import threading
from typing import Collection

import numpy as np

from retrieval.index.bm25 import TermWeights
from retrieval.index.milvus.rows import PASSAGE_FIELDS
from retrieval.index.protocol import Lexical, SharedReads
from retrieval.index.sentence_table import Sentences
from retrieval.question.query import coverage
from retrieval.question.spelling import Speller
from retrieval.types import Article, Passage

KEPT = 4096  # passages a snapshot keeps fetched


class MilvusArticles:
    """article id -> Article, read from Milvus when asked for; the headings are held. `store` is the
    MilvusStore that loaded it (not imported here: the store imports this module)."""

    def __init__(self, store, generation: str, headings):
        self.store, self.generation, self.headings = store, generation, headings
        self.number = {h[0]: k for k, h in enumerate(headings)}
        self._read = functools.lru_cache(maxsize=64)(lambda article_id: store._article(generation, article_id))

    def __getitem__(self, article_id: str) -> Article:
        if article_id not in self.number:
            raise KeyError(article_id)
        return self._read(article_id)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.number

    def __iter__(self):
        return iter(self.number)

    def __len__(self) -> int:
        return len(self.headings)

    def hashes(self) -> dict[str, str]:
        return self.store._hashes(self.generation)


class MilvusSnapshot(SharedReads):
    """What a question reads from a Milvus generation; a passage's key is its row."""

    def __init__(self, store, name: str, generation: str, corpus: dict, headings, frequency: dict, names):
        self.store, self.name, self.generation = store, name, generation
        self.model = corpus["model"]
        self.passage_count = corpus["passages"]
        self.articles = MilvusArticles(store, generation, headings)
        self.sparse = TermWeights(frequency, corpus["passages"])
        self.speller = Speller(self.sparse, names)
        self.collection = store._passages(generation)
        self._kept: collections.OrderedDict[int, tuple[Passage, Sentences]] = collections.OrderedDict()
        self._kept_lock = threading.Lock()

    def _keep(self, rows: list[dict]) -> dict[int, tuple[Passage, Sentences]]:
        """The passages and sentences of fetched rows, by row, kept for the questions' later stages."""
        made = {r["row"]: (Passage(r["id"], r["row"], r["article_id"], r["title"], r["start"], r["end"], r["text"],
                                   r["date"] or None),
                           tuple((s, e, tuple(t.split())) for s, e, t in r["sentences"])) for r in rows}
        with self._kept_lock:
            for row, entry in made.items():
                self._kept[row] = entry
                self._kept.move_to_end(row)
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return made

    def _fetched(self, keys: Collection[int]) -> dict[int, tuple[Passage, Sentences]]:
        with self._kept_lock:
            found = {k: self._kept[k] for k in keys if k in self._kept}
        missing = [int(k) for k in keys if k not in found]
        if missing:
            rows = self.store._call("reading passages", self.store.client.query, self.collection,
                                    filter=f"row in {missing}", output_fields=PASSAGE_FIELDS)
            found.update(self._keep(rows))
        return found

    def _query(self, expr: str) -> list[Passage]:
        rows = self.store._call("reading passages", self.store.client.query, self.collection, filter=expr,
                                output_fields=PASSAGE_FIELDS, limit=16384)
        return [passage for passage, _ in self._keep(rows).values()]

    # What a front-end reads.
    def passage(self, passage_id: str) -> Passage | None:
        found = self._query(f"id == {json.dumps(passage_id)}")
        return found[0] if found else None

    def passages_of(self, article_id: str) -> list[Passage]:
        return sorted(self._query(f"article_id == {json.dumps(article_id)}"), key=lambda p: p.start)

    def passage_by_row(self, row: int) -> Passage | None:
        found = self._fetched([int(row)])
        return found[int(row)][0] if found else None

    # What a search reads.
    def keys_of(self, article_ids: Collection[str]) -> np.ndarray:
        if not article_ids:
            return np.zeros(0, dtype=np.int64)
        rows = self.store._call("reading passages", self.store.client.query, self.collection,
                                filter=f"article_id in {json.dumps(sorted(article_ids))}", output_fields=["row"], limit=16384)
        return np.array(sorted(r["row"] for r in rows), dtype=np.int64)

    def passage_at(self, key: int) -> Passage:
        return self._fetched([key])[key][0]

    def article_id(self, key: int) -> str:
        return self.passage_at(key).article_id

    def _search(self, data, field: str, depth: int, expr: str | None, params: dict,
                found: bool = True) -> list[tuple[int, float]]:
        """(row, score) of the best `depth`; `found` passages arrive with them and are kept (a search of
        candidates already fetched, for their scores, asks for rows only)."""
        hits = self.store._call("searching", self.store.client.search, self.collection, data=[data], anns_field=field,
                                limit=depth, filter=expr or "", output_fields=PASSAGE_FIELDS if found else ["row"],
                                search_params=params)
        if found:
            self._keep([h["entity"] | {"id": h["id"]} for h in hits[0]])
        return [(int(h["entity"]["row"]), float(h["distance"])) for h in hits[0]]

    def dense_search(self, vector: np.ndarray, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        expr = None if allowed is None else f"row in {allowed.tolist()}"
        found = self._search(np.asarray(vector, dtype=np.float32).tolist(), "vector", depth, expr,
                             {"metric_type": "IP", "params": {"nprobe": 16}})
        return sorted(found, key=lambda pair: (-pair[1], pair[0]))

    def lexical_search(self, search_terms: list[str], depth: int, allowed: np.ndarray | None):
        known = [t for t in search_terms if t in self.sparse]
        if not known:
            return Lexical([], lambda keys: {})
        text = " ".join(known)
        expr = None if allowed is None else f"row in {allowed.tolist()}"
        ranking = sorted(self._search(text, "bm25", depth, expr, {"metric_type": "BM25"}), key=lambda p: (-p[1], p[0]))

        def scores(keys: list[int]) -> dict[int, float]:  # the candidates' own scores, one filtered search
            return dict(self._search(text, "bm25", len(keys), f"row in {list(map(int, keys))}", {"metric_type": "BM25"},
                                     found=False))

        return Lexical(ranking, scores)

    def cosines(self, keys: list[int], vector: np.ndarray) -> list[float]:
        found = dict(self._search(np.asarray(vector, dtype=np.float32).tolist(), "vector", len(keys),
                                  f"row in {list(map(int, keys))}", {"metric_type": "IP"}, found=False))
        return [found.get(int(k), 0.0) for k in keys]

    def best_coverage(self, keys: list[int], wanted: dict[str, float]) -> dict[int, float]:
        total = sum(wanted.values())
        fetched = self._fetched(keys)
        return {k: max((coverage(wanted, frozenset(sentence_terms), total) for _, _, sentence_terms in fetched[k][1]),
                       default=0.0) for k in keys}

    def sentences_of(self, passage: Passage) -> Sentences:
        return self._fetched([passage.row])[passage.row][1]



