"""The index in Milvus: dense vectors and Milvus's own BM25 in one collection, for deployments past one
machine or several API replicas sharing one index. CITEQA_STORE_URI picks it (retrieval.index).

A build is a generation, three collections named after it (`<prefix>_<gen>_passages`, `_articles`,
`_meta` rows in `<prefix>_meta`); `<prefix>_meta`'s "current" row names the published one, so a full
rebuild fills a new generation and then switches that one row, and a server picks it up as it
does a new file version. (milvus-lite has no collection aliases, hence a row.)

    passages   one row a passage, primary key its id "<article>#<n>": deterministic, so refreshing an
               article is an upsert of its passages plus deleting its ids past the new count, and a
               refresh killed part-way is made whole by the next one. Each row holds the passage, its
               vector, its sentences (offsets and terms) and its BM25 terms, which Milvus indexes.
    articles   an article's text, in pieces of at most PIECE characters (a VARCHAR's limit is bytes),
               the first piece holding its hash, heading, sections and names.
    meta       per generation: model, dimension, settings, next row, revision; and the corpus's
               document frequencies, in chunks. A refresh recomputes them from every passage's stored
               terms, never from text, and bumps the revision, which is how a server sees the change.

The passages' BM25 terms are ours (stemmed, numbers kept), joined by spaces and split by Milvus's
whitespace analyzer, so Milvus ranks by the same terms the file store's bm25s does.
A snapshot holds the articles' headings and the corpus's term weights and names; passages are fetched
per question, the ones a search found arriving with its results.
"""

from __future__ import annotations

import collections
import datetime
import json
import logging
import threading
import time
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np

from retrieval.articles.folder import MAX_ARTICLE_BYTES
from retrieval.errors import CiteqaError, IndexCorrupt, StoreUnavailable
from retrieval.index.milvus import rows
from retrieval.index.milvus.connection import first_line, unreachable
from retrieval.index.milvus.rows import article_rows, passage_row, vector_dimension
from retrieval.index.milvus.snapshot import MilvusSnapshot
from retrieval.index.refresh import PIPELINE, Held, builds_on, new_passages, plan
from retrieval.types import Article, Passage

log = logging.getLogger(__name__)

CHUNK = 2_000  # document frequencies a meta row


class MilvusStore:
    def __init__(self, uri: str, token: str | None = None, prefix: str = "citeqa", timeout: float = 10.0):
        self.uri, self.token, self.prefix, self.timeout = uri, token, prefix, timeout
        self.where = uri
        self._client = None
        self._lock = threading.Lock()

    # Connecting.
    @property
    def client(self):
        """The connection, made on first use: a server that cannot reach Milvus starts not-ready and tries again."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        with warnings.catch_warnings():  # milvus-lite imports pkg_resources, which warns on every start
            warnings.simplefilter("ignore", UserWarning)
            from pymilvus import MilvusClient
        # pymilvus logs each failed call (and harmless iterator notes) itself; ours is the one clear line.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

        try:
            with warnings.catch_warnings():  # a .db starts milvus-lite, which imports pkg_resources
                warnings.simplefilter("ignore", UserWarning)
                if self.uri.endswith(".db"):
                    Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
                    return MilvusClient(self.uri)
                return MilvusClient(self.uri, token=self.token or "", timeout=self.timeout)
        except Exception as err:  # pymilvus raises its own exceptions and grpc's
            raise StoreUnavailable(unreachable(self.uri, err, bool(self.token))) from err

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CiteqaError:
            raise
        except Exception as err:
            with self._lock:
                self._client = None  # reconnect next time: the server may be back
            raise StoreUnavailable(f"CITEQA_STORE_URI={self.uri}: {what} failed ({type(err).__name__}: "
                                   f"{first_line(err)})") from err

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # Names.
    @property
    def meta(self) -> str:
        return f"{self.prefix}_meta"

    def _passages(self, generation: str) -> str:
        return f"{self.prefix}_{generation}_passages"

    def _articles(self, generation: str) -> str:
        return f"{self.prefix}_{generation}_articles"

    # What a server reads.
    def current_name(self) -> str | None:
        """"<generation>.<revision>": a refresh in place bumps the revision, a rebuild the generation."""
        generation = self._current_generation()
        if generation is None:
            return None
        corpus = self._meta(f"{generation}/corpus")
        if corpus is None:
            raise IndexCorrupt(f"{self.where}: generation {generation} has no corpus record: run `citeqa index`")
        return f"{generation}.{corpus['revision']}"

    def _current_generation(self) -> str | None:
        client = self.client
        if not self._call("listing collections", client.has_collection, self.meta):
            return None
        pointer = self._meta("current")
        return pointer["generation"] if pointer else None

    def _meta(self, key: str) -> dict | None:
        found = self._call(f"reading {key}", self.client.get, self.meta, ids=[key], output_fields=["value"])
        return found[0]["value"] if found else None

    def load(self, name: str) -> "MilvusSnapshot":
        generation, _, _ = name.partition(".")
        corpus = self._meta(f"{generation}/corpus")
        if corpus is None:
            raise IndexCorrupt(f"{self.where}: generation {generation} is gone")
        passages = self._passages(generation)
        for collection in (passages, self._articles(generation)):
            if not self._call("listing collections", self.client.has_collection, collection):
                raise IndexCorrupt(f"{self.where}: collection {collection} is missing: run `citeqa index`")
            self._call(f"loading {collection}", self.client.load_collection, collection)
        dimension = vector_dimension(self._call("describing", self.client.describe_collection, passages))
        if dimension != corpus["dimension"]:
            raise StoreUnavailable(f"CITEQA_STORE_URI={self.uri}: collection {passages} holds vectors of dimension "
                                   f"{dimension}, its corpus record says {corpus['dimension']}: run `citeqa index`")
        frequency = {}
        for k in range(corpus["frequency_chunks"]):
            frequency.update(self._meta(f"{generation}/df/{k}") or {})
        headings, names = self._headings(generation)
        return MilvusSnapshot(self, name, generation, corpus, headings, frequency, names)

    def _headings(self, generation: str):
        rows = self._scan(self._articles(generation), "k == 0", ["article_id", "meta"])
        rows.sort(key=lambda r: r["article_id"])
        headings = [(r["article_id"], r["meta"]["title"], r["meta"]["date"], r["meta"]["published"]) for r in rows]
        names = frozenset(n for r in rows for n in r["meta"]["names"])
        return headings, names

    def _scan(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        """Every row matching `expr`, a batch at a time (a query returns at most 16,384)."""
        iterator = self._call("scanning", self.client.query_iterator, collection, batch_size=4096, filter=expr,
                              output_fields=fields)
        rows = []
        try:
            while batch := self._call("scanning", iterator.next):
                rows.extend(batch)
        finally:
            iterator.close()
        return rows

    # Writing.
    def refresh(self, corpus: Path, embedder, progress=None, reuse: bool = True, max_bytes: int = MAX_ARTICLE_BYTES,
                checkpoint=None, settle_seconds: float = 0.0, dense_index: str = "flat"):
        """Bring the store up to date with the folder (reuse) or build a new generation and switch to it."""
        started = time.perf_counter()
        checkpoint = checkpoint or (lambda point: None)
        generation = published = self._current_generation()
        record = self._meta(f"{generation}/corpus") if generation else None
        held = None
        if reuse and record and builds_on(record["model"], record["settings"], embedder.name):
            held_dimension = vector_dimension(self._call("describing", self.client.describe_collection,
                                                         self._passages(generation)))
            if held_dimension != record["dimension"]:  # before anything is embedded, written or deleted
                raise StoreUnavailable(f"CITEQA_STORE_URI={self.uri}: collection {self._passages(generation)} holds "
                                       f"vectors of dimension {held_dimension}, its corpus record says "
                                       f"{record['dimension']}: run `citeqa index`")
            held = Held(record["model"], record["settings"], self._hashes(generation), record["next_row"],
                        lambda article_id: self._article(generation, article_id))
        decided = plan(corpus, held, embedder.name, max_bytes, settle_seconds)
        if decided.up_to_date:
            return decided.report(passages=record["passages"], seconds=time.perf_counter() - started)

        in_place = decided.held is not None
        fresh, vectors, next_row = new_passages(decided, embedder, progress, checkpoint)
        dimension = vectors.shape[1] if len(vectors) else record["dimension"]
        if in_place and dimension != record["dimension"]:
            raise StoreUnavailable(f"CITEQA_STORE_URI={self.uri}: the model makes vectors of dimension {dimension}, "
                                   f"the collection holds {record['dimension']}: run `citeqa index`")
        if not in_place:
            generation = datetime.datetime.now(datetime.timezone.utc).strftime("g%Y%m%dT%H%M%S%fZ")
            self._create(generation, dimension, dense_index, len(fresh))
        changes = decided.changes
        self._write_articles(generation, changes.fresh, fresh, vectors, checkpoint, replacing=in_place)
        for article_id in changes.removed:
            self._delete_article(generation, article_id)
        frequency, passages = self._frequencies(generation)
        frequency_rows = [dict(items) for items in in_batches(sorted(frequency.items()), CHUNK)]
        self._upsert_meta([(f"{generation}/df/{k}", c) for k, c in enumerate(frequency_rows)])
        stale = [f"{generation}/df/{k}" for k in range(len(frequency_rows), record["frequency_chunks"] if in_place else 0)]
        if stale:
            self._call("deleting", self.client.delete, self.meta, ids=stale)
        revision = record["revision"] + 1 if in_place else 1
        self._upsert_meta([(f"{generation}/corpus", {
            "model": embedder.name, "dimension": int(dimension), "settings": PIPELINE, "next_row": next_row,
            "revision": revision, "passages": passages, "articles": len(changes.articles),
            "frequency_chunks": len(frequency_rows), "dense": dense_index})])
        checkpoint("before-publish")
        if not in_place:
            self._upsert_meta([("current", {"generation": generation})])
            checkpoint("after-publish")
            self._drop_others({generation, published} - {None})
        return decided.report(passages=passages, embedded=len(fresh), seconds=time.perf_counter() - started,
                              version=f"{generation}.{revision}")

    def _create(self, generation: str, dimension: int, dense_index: str, passages: int) -> None:
        client = self.client
        if not self._call("listing collections", client.has_collection, self.meta):
            schema, index = rows.meta_collection(client)
            self._call("creating", client.create_collection, self.meta, schema=schema, index_params=index)
        schema, index = rows.passages_collection(client, dimension, dense_index, passages)
        self._call("creating", client.create_collection, self._passages(generation), schema=schema, index_params=index)
        schema, index = rows.articles_collection(client)
        self._call("creating", client.create_collection, self._articles(generation), schema=schema, index_params=index)

    def _write_articles(self, generation: str, articles: list[Article], passages: list[Passage], vectors: np.ndarray,
                        checkpoint, replacing: bool) -> None:
        """Each article's passages, then its text and record. Into a published generation (`replacing`) one
        article whole after another, each with deleting what its last version left, and
        `checkpoint("writing")` after the first: a refresh killed there has written part of its articles,
        which the next one finishes. A new generation has nothing to replace and nobody reads it yet, so its
        rows go in large batches across articles (one call per article would be ~4 round trips each)."""
        by_article: dict[str, list[tuple[Passage, np.ndarray]]] = collections.defaultdict(list)
        for p, v in zip(passages, vectors):
            by_article[p.article_id].append((p, v))
        groups = [[a] for a in articles] if replacing else list(in_batches(articles, 512))
        for group in groups:
            rows = [passage_row(p, v, a) for a in group for p, v in by_article.get(a.id, [])]
            for batch in in_batches(rows, 256):
                self._call("writing passages", self.client.upsert, self._passages(generation), batch)
            if replacing:  # deterministic ids: the article's ids past its new count are what its last version left
                self._call("deleting", self.client.delete, self._passages(generation),
                           filter=f"article_id == {json.dumps(group[0].id)} and n >= {len(rows)}")
            # The article's record (its hash) last: until it is written the next refresh sees the article as
            # changed and writes it again.
            pieces = [row for a in group for row in article_rows(a, by_article.get(a.id, []))]
            for batch in in_batches(pieces, 256):
                self._call("writing articles", self.client.upsert, self._articles(generation), batch)
            if replacing:
                self._call("deleting", self.client.delete, self._articles(generation),
                           filter=f"article_id == {json.dumps(group[0].id)} and k >= {len(pieces)}")
            if group is groups[0]:
                checkpoint("writing")

    def _delete_article(self, generation: str, article_id: str) -> None:
        for collection in (self._passages(generation), self._articles(generation)):
            self._call("deleting", self.client.delete, collection, filter=f"article_id == {json.dumps(article_id)}")

    def _frequencies(self, generation: str) -> tuple[collections.Counter, int]:
        """Each term's document frequency over every passage's stored BM25 terms, and the passages."""
        frequency: collections.Counter = collections.Counter()
        rows = self._scan(self._passages(generation), "row >= 0", ["terms"])
        for r in rows:
            frequency.update(set(r["terms"].split()))
        return frequency, len(rows)

    def _upsert_meta(self, items: Iterable[tuple[str, dict]]) -> None:
        rows = [{"key": key, "value": value, "unused": [0.0, 0.0]} for key, value in items]
        for batch in in_batches(rows, 64):
            self._call("writing meta", self.client.upsert, self.meta, batch)

    def _drop_others(self, keep: set[str]) -> None:
        """Drop the collections and records of every generation but those in `keep`: the new one and the one
        it replaces, which servers may still be answering from until they reload. Anything older, or left
        by a rebuild that died before publishing, goes."""
        for name in self._call("listing collections", self.client.list_collections):
            if name.startswith(f"{self.prefix}_g") and name[len(self.prefix) + 1:].split("_")[0] not in keep:
                self._call("dropping", self.client.drop_collection, name)
        keys = [r["key"] for r in self._scan(self.meta, 'key != ""', ["key"])]
        doomed = [k for k in keys if k.startswith("g") and k.split("/")[0] not in keep]
        if doomed:
            self._call("deleting", self.client.delete, self.meta, ids=doomed)

    def _hashes(self, generation: str) -> dict[str, str]:
        return {r["article_id"]: r["meta"]["sha256"] for r in self._scan(self._articles(generation), "k == 0", ["article_id", "meta"])}

    def _article(self, generation: str, article_id: str) -> Article:
        rows = self._call("reading an article", self.client.query, self._articles(generation),
                          filter=f"article_id == {json.dumps(article_id)}", output_fields=["k", "piece", "meta"])
        if not rows:
            raise KeyError(article_id)
        rows.sort(key=lambda r: r["k"])
        meta = rows[0]["meta"]
        if len(rows) < meta["pieces"]:
            raise IndexCorrupt(f"{self.where}: article {article_id} has {len(rows)} of its {meta['pieces']} pieces")
        rows = rows[:meta["pieces"]]  # past them: a shorter version's leftovers, if a refresh died before deleting them
        return Article(id=article_id, title=meta["title"], text="".join(r["piece"] for r in rows), sha256=meta["sha256"],
                       sections=tuple(tuple(s) for s in meta["sections"]), date=meta["date"],
                       published=meta["published"], path=meta["path"], url=meta.get("url"),
                       author=meta.get("author"), site=meta.get("site"), sources=tuple(meta.get("sources", ())))



def in_batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


