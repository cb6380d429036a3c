"""The index in Milvus: dense vectors and Milvus's own BM25 in one collection, for deployments past one
machine or several API replicas sharing one index. CITEQA_STORE_URI picks it (retrieval.index.store).

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

import bisect
import collections
import datetime
import functools
import json
import logging
import socket
import threading
import time
import urllib.parse
import warnings
from pathlib import Path
from typing import Collection, Iterable

import numpy as np

from retrieval.index.files import dense as dense_kinds
from retrieval.articles.folder import MAX_ARTICLE_BYTES
from retrieval.errors import CiteqaError, IndexCorrupt
from retrieval.question.query import coverage
from retrieval.index.sentence_table import Sentences
from retrieval.articles.sentences import sentences_with_terms
from retrieval.index.bm25 import EMPTY, TermWeights
from retrieval.question.spelling import Speller, names_in
from retrieval.index.store import StoreUnavailable
from retrieval.terms import terms
from retrieval.types import Article, Passage

log = logging.getLogger(__name__)

PIECE = 15_000  # characters of article text a row: at most 60,000 bytes of UTF-8, under VARCHAR's 65,535
CHUNK = 2_000  # document frequencies a meta row
TEXT_BYTES = 65_535
BM25 = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, which the file store uses
PASSAGE_FIELDS = ["id", "row", "article_id", "title", "date", "start", "end", "text", "sentences"]
KEPT = 4096  # passages a snapshot keeps fetched


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
            raise StoreUnavailable(_unreachable(self.uri, err, bool(self.token))) from err

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CiteqaError:
            raise
        except Exception as err:
            with self._lock:
                self._client = None  # reconnect next time: the server may be back
            raise StoreUnavailable(f"CITEQA_STORE_URI={self.uri}: {what} failed ({type(err).__name__}: "
                                   f"{_first_line(err)})") from err

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
        dimension = _vector_dimension(self._call("describing", self.client.describe_collection, passages))
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
        from retrieval.index.refresh import PIPELINE, RefreshReport, compare, embed_passages, split_all

        started = time.perf_counter()
        checkpoint = checkpoint or (lambda point: None)
        generation = published = self._current_generation()
        record = self._meta(f"{generation}/corpus") if generation else None
        if reuse and record and (record["model"] != embedder.name or record["settings"] != PIPELINE):
            log.info("rebuilding from scratch: the index was made with %s %s", record["model"], record["settings"])
            reuse = False
        if reuse and record:
            held_dimension = _vector_dimension(self._call("describing", self.client.describe_collection,
                                                          self._passages(generation)))
            if held_dimension != record["dimension"]:  # before anything is embedded, written or deleted
                raise StoreUnavailable(f"CITEQA_STORE_URI={self.uri}: collection {self._passages(generation)} holds "
                                       f"vectors of dimension {held_dimension}, its corpus record says "
                                       f"{record['dimension']}: run `citeqa index`")
        old = self._hashes(generation) if reuse and record else {}
        changes = compare(corpus, old, lambda a: self._article(generation, a), max_bytes, settle_seconds)
        articles, fresh, removed, report = changes.articles, changes.fresh, changes.removed, changes.report
        in_place = bool(reuse and record)
        if in_place and not fresh and not removed:
            return RefreshReport(**report, passages=record["passages"], seconds=time.perf_counter() - started)

        new_passages, next_row = split_all(fresh, record["next_row"] if in_place else 0)
        vectors = embed_passages(embedder, new_passages, progress, checkpoint)
        dimension = vectors.shape[1] if len(vectors) else record["dimension"]
        if in_place and dimension != record["dimension"]:
            raise StoreUnavailable(f"CITEQA_STORE_URI={self.uri}: the model makes vectors of dimension {dimension}, "
                                   f"the collection holds {record['dimension']}: run `citeqa index`")
        if not in_place:
            generation = datetime.datetime.now(datetime.timezone.utc).strftime("g%Y%m%dT%H%M%S%fZ")
            self._create(generation, dimension, dense_index, len(new_passages))
        self._write_articles(generation, fresh, new_passages, vectors, checkpoint, replacing=in_place)
        for article_id in removed:
            self._delete_article(generation, article_id)
        frequency, passages = self._frequencies(generation)
        chunks = [dict(items) for items in _chunks(sorted(frequency.items()), CHUNK)]
        self._upsert_meta([(f"{generation}/df/{k}", c) for k, c in enumerate(chunks)])
        stale = [f"{generation}/df/{k}" for k in range(len(chunks), record["frequency_chunks"] if in_place else 0)]
        if stale:
            self._call("deleting", self.client.delete, self.meta, ids=stale)
        revision = record["revision"] + 1 if in_place else 1
        self._upsert_meta([(f"{generation}/corpus", {
            "model": embedder.name, "dimension": int(dimension), "settings": PIPELINE, "next_row": next_row,
            "revision": revision, "passages": passages, "articles": len(articles), "frequency_chunks": len(chunks),
            "dense": dense_index})])
        checkpoint("before-publish")
        if not in_place:
            self._upsert_meta([("current", {"generation": generation})])
            checkpoint("after-publish")
            self._drop_others({generation, published} - {None})
        return RefreshReport(**report, passages=passages, embedded=len(new_passages),
                             seconds=time.perf_counter() - started, version=f"{generation}.{revision}")

    def _create(self, generation: str, dimension: int, dense_index: str, passages: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        client = self.client
        if not self._call("listing collections", client.has_collection, self.meta):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
            schema.add_field("value", DataType.JSON)
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field in every collection
            index = client.prepare_index_params()
            index.add_index("unused", index_type="FLAT", metric_type="L2")
            self._call("creating", client.create_collection, self.meta, schema=schema, index_params=index)

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=1024)
        schema.add_field("row", DataType.INT64)
        schema.add_field("n", DataType.INT64)
        schema.add_field("article_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("title", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("date", DataType.VARCHAR, max_length=256)
        schema.add_field("published", DataType.VARCHAR, max_length=16)  # ISO date or "": filters compare it as text
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("sentences", DataType.JSON)
        schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True,
                         analyzer_params={"tokenizer": "whitespace"})
        schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(dimension))
        schema.add_function(Function(name="terms_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["terms"], output_field_names=["bm25"]))
        index = client.prepare_index_params()
        kind = dense_kinds.resolve(dense_index, passages)
        if kind == "flat":
            index.add_index("vector", index_type="FLAT", metric_type="IP")
        else:
            index.add_index("vector", index_type="IVF_FLAT", metric_type="IP",
                            params={"nlist": max(1, min(4096, int(4 * passages ** 0.5)))})
        index.add_index("bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25)
        index.add_index("article_id", index_type="INVERTED")
        index.add_index("row", index_type="INVERTED")
        self._call("creating", client.create_collection, self._passages(generation), schema=schema, index_params=index)

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1100)
        schema.add_field("article_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("k", DataType.INT64)
        schema.add_field("piece", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("meta", DataType.JSON)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
        index = client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
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
        groups = [[a] for a in articles] if replacing else list(_chunks(articles, 512))
        for group in groups:
            rows = [_passage_row(p, v, a) for a in group for p, v in by_article.get(a.id, [])]
            for batch in _chunks(rows, 256):
                self._call("writing passages", self.client.upsert, self._passages(generation), batch)
            if replacing:  # deterministic ids: the article's ids past its new count are what its last version left
                self._call("deleting", self.client.delete, self._passages(generation),
                           filter=f"article_id == {json.dumps(group[0].id)} and n >= {len(rows)}")
            # The article's record (its hash) last: until it is written the next refresh sees the article as
            # changed and writes it again.
            pieces = [row for a in group for row in _article_rows(a, by_article.get(a.id, []))]
            for batch in _chunks(pieces, 256):
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
        for batch in _chunks(rows, 64):
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
                       published=meta["published"], path=meta["path"])


class MilvusArticles:
    """article id -> Article, read from Milvus when asked for; the headings are held."""

    def __init__(self, store: MilvusStore, generation: str, headings):
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


class MilvusSnapshot:
    """What a question reads from a Milvus generation; a passage's key is its row."""

    def __init__(self, store: MilvusStore, name: str, generation: str, corpus: dict, headings, frequency: dict, names):
        self.store, self.name, self.generation = store, name, generation
        self.model = corpus["model"]
        self.passage_count = corpus["passages"]
        self.articles = MilvusArticles(store, generation, headings)
        self.sparse = TermWeights(frequency, corpus["passages"])
        self.speller = Speller(self.sparse, names)
        self.collection = store._passages(generation)
        self._kept: collections.OrderedDict[int, tuple[Passage, Sentences]] = collections.OrderedDict()
        self._kept_lock = threading.Lock()
        self._title_terms = functools.lru_cache(maxsize=4096)(lambda title: frozenset(terms(title)))
        pairs = sorted((published, i) for i, _, _, published in headings if published)
        self._by_date = ([d for d, _ in pairs], [i for _, i in pairs])

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

    def published_between(self, after: str, before: str) -> set[str]:
        dates, ids = self._by_date
        return set(ids[bisect.bisect_left(dates, after):bisect.bisect_right(dates, before)])

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
        from retrieval.search.ranking import Lexical

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

    def passage_terms(self, passage: Passage) -> frozenset[str]:
        held = {t for _, _, sentence_terms in self.sentences_of(passage) for t in sentence_terms}
        return self._title_terms(passage.title) | held


def _passage_row(p: Passage, vector: np.ndarray, article: Article) -> dict:
    sentences = [(s, e, tuple(t)) for s, e, t in sentences_with_terms(p.text)]
    body = [t for _, _, sentence_terms in sentences for t in sentence_terms]
    # BM25 reads a passage's heading too, as the file store's does.
    bm25_terms = terms(f"{p.title} {p.date or ''}") + body or [EMPTY]
    return {"id": p.id, "row": p.row, "n": int(p.id.rpartition("#")[2]), "article_id": p.article_id, "title": p.title,
            "date": p.date or "", "published": article.published or "", "start": p.start, "end": p.end, "text": p.text,
            "sentences": [[s, e, " ".join(t)] for s, e, t in sentences], "terms": " ".join(bm25_terms),
            "vector": np.asarray(vector, dtype=np.float32).tolist()}


def _article_rows(article: Article, own: list[tuple[Passage, np.ndarray]]) -> list[dict]:
    """The article's text in pieces that fit a VARCHAR, the first carrying its record (hash, names, sections)."""
    names = sorted(names_in([p.text for p, _ in own]))
    pieces = [article.text[i:i + PIECE] for i in range(0, max(1, len(article.text)), PIECE)]
    meta = {"sha256": article.sha256, "title": article.title, "date": article.date, "published": article.published,
            "path": article.path, "sections": [list(s) for s in article.sections], "names": names,
            "pieces": len(pieces)}
    return [{"key": f"{article.id}:{k}", "article_id": article.id, "k": k, "piece": piece,
             "meta": meta if k == 0 else {}, "unused": [0.0, 0.0]} for k, piece in enumerate(pieces)]


def _vector_dimension(description: dict) -> int | None:
    for field in description.get("fields", []):
        if field.get("name") == "vector":
            return int(field.get("params", {}).get("dim", 0))
    return None


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def _unreachable(uri: str, err: Exception, with_token: bool) -> str:
    if uri.endswith(".db"):
        if "Open local milvus failed" in str(err):
            return (f"CITEQA_STORE_URI={uri}: cannot open the milvus-lite file (another process has it open? milvus-lite "
                    f"serves one process: refresh through the server's /v1/admin/refresh, or use a Milvus server)")
    elif _listening(uri):
        # pymilvus reports a refused token as it reports a dead server; something that accepts the
        # connection and then refuses the handshake is most likely asking for credentials.
        token = ("it refused CITEQA_STORE_TOKEN (user:password or an API key)" if with_token else
                 "it may need a token: set CITEQA_STORE_TOKEN (user:password or an API key)")
        return f"CITEQA_STORE_URI={uri}: a server answers but the connection was refused: {token} ({_first_line(err)})"
    return f"CITEQA_STORE_URI={uri}: cannot reach Milvus ({type(err).__name__}: {_first_line(err)})"


def _listening(uri: str) -> bool:
    """Whether something accepts TCP connections at the URI's host and port."""
    parts = urllib.parse.urlsplit(uri)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 19530)
        with socket.create_connection((parts.hostname or "localhost", port), timeout=2):
            return True
    except (OSError, ValueError):
        return False
