"""The Engine (a published index and the models) and `ask`, the one function every front-end calls."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Sequence

from retrieval.answer.candidates import Sentence, candidate_sentences, score_sentences
from retrieval.answer.compose import abstain, ask_what_about, compose
from retrieval.answer.lists import complete_answer
from retrieval.answer.abstention import signals
from retrieval.answer.sources import with_sources
from retrieval.answer.verdict import evidence as verdict_evidence
from retrieval.embed.embedders import Embedder
from retrieval.errors import CiteqaError, IndexCorrupt, IndexNotFound, ModelMismatch, ReaderUnavailable
from retrieval.question.query import Query, parse
from retrieval.answer.reader import MODEL_DIR as READER_DIR, Reader
from retrieval.answer.spans import Reading, choose_readings, read
from retrieval.search.ranking import Retriever, diversify, search
from retrieval.index.connect import open_store
from retrieval.index.protocol import Snapshot, Store
from retrieval.types import Answer, Hit, Turn

log = logging.getLogger(__name__)


class Engine:
    """Holds the loaded index and swaps in a newly published version without stopping questions.

    `ask` takes `engine.index` once, so a question in flight finishes on the version it started with.
    """

    def __init__(self, index: Path | Store, embedder: Embedder, retriever: Retriever = "hybrid",
                 reader_dir: Path = READER_DIR):
        # A folder means its file versions (the default store); any other store comes made.
        self.store: Store = open_store(index) if isinstance(index, (str, Path)) else index
        self.index_dir = getattr(self.store, "index_dir", None)  # a file store's folder
        self.embedder = embedder
        self.retriever = retriever
        # The reader loads once, here: a missing or corrupt weights file is known before any question,
        # and the engine is not ready (a server stays not-ready, `citeqa ask` fails with this line).
        self.reader: Reader | None = None
        self.reader_error: str | None = None
        try:
            self.reader = Reader(reader_dir)
        except ReaderUnavailable as err:
            self.reader_error = str(err)  # each front-end says it once, its own way
        self._index: Snapshot | None = None
        self._reload_lock = threading.Lock()
        self.load_error: str | None = None  # why the last reload failed; None once one succeeds
        self._refused: tuple[str, CiteqaError] | None = None  # versions never change: one refused is not read again

    @classmethod
    def open(cls, index: Path | Store, embedder: Embedder, **kwargs) -> "Engine":
        engine = cls(index, embedder, **kwargs)
        engine.reload()
        return engine

    @property
    def index(self) -> Snapshot:
        index = self._index
        if index is None:
            raise IndexNotFound(f"no index loaded from {self.store.where}")
        return index

    @property
    def ready(self) -> bool:
        return self._index is not None and self.reader is not None

    def require_reader(self) -> Reader:
        if self.reader is None:
            raise ReaderUnavailable(self.reader_error or "no reader")
        return self.reader

    def warm_up(self) -> None:
        """Load the models now rather than in the first question (the embedder loads lazily)."""
        self.embedder.encode(["warm up"])
        if self.reader is not None:
            self.reader.read("Warm up?", ["Warm up."])

    def reload(self) -> bool:
        """Load the published version if it is not the one loaded; True when it swapped.

        A version that fails its checks raises and leaves the loaded one serving; `load_error` says why.
        """
        with self._reload_lock:
            try:
                swapped = self._reload()
            except CiteqaError as err:
                self.load_error = str(err)
                raise
            self.load_error = None
            return swapped

    def _reload(self) -> bool:
        attempts = 3
        while True:
            name = self.store.current_name()
            if name is None:
                raise IndexNotFound(f"no index published in {self.store.where}: run `citeqa index` first")
            if self._index is not None and self._index.name == name:
                return False
            if self._refused and self._refused[0] == name:
                refused = self._refused[1]
                raise type(refused)(str(refused))  # a fresh one: re-raising one object grows its traceback
            started = time.perf_counter()
            try:
                snapshot = self.store.load(name)
            except IndexCorrupt as err:
                # Several refreshes in a row may publish and prune the version we were reading: try the new one.
                attempts -= 1
                if attempts and self.store.current_name() != name:
                    continue
                if self.store.current_name() == name:
                    self._refused = (name, err)
                raise
            if snapshot.model != self.embedder.name:
                err = ModelMismatch(f"index {name} was embedded with {snapshot.model!r}, "
                                    f"but questions would be embedded with {self.embedder.name!r}: run `citeqa index`")
                self._refused = (name, err)
                raise err
            self._index = snapshot
            log.info("loaded index %s: %d articles, %d passages in %.2fs", name, len(snapshot.articles),
                     snapshot.passage_count, time.perf_counter() - started)
            return True


@dataclass(frozen=True, slots=True)
class Gathered:
    """What one question found before anything is decided: the answer, the checks and the fitting
    scripts (benchmarks/fit_answer.py) all start from it."""

    query: Query
    index: Snapshot
    hits: list[Hit]
    scored: list[Sentence]
    readings: list[Reading]


def gather(engine: Engine, question: str, history: Sequence[Turn] = (), top_k: int = 3,
           article_ids: Collection[str] | None = None, retriever: Retriever | None = None) -> Gathered:
    # The reader first: its absence needs an operator (rebuild the weights) and never passes by itself,
    # while an index still loading does; a question says the lasting cause.
    reader = engine.require_reader()
    index = engine.index
    query = parse(question, index.sparse, index.speller, history, article_ids)
    hits = diversify(search(index, engine.embedder, query, k=max(top_k, 3) * 3,
                            retriever=retriever or engine.retriever))[:top_k]
    scored = score_sentences(candidate_sentences(hits, top_k, index.sentences_of), query) if hits else []
    readings = read(reader, query.reader_question, hits, scored) if hits else []
    return Gathered(query, index, hits, scored, readings)


def ask(engine: Engine, question: str, history: Sequence[Turn] = (), top_k: int = 3,
        article_ids: Collection[str] | None = None, retriever: Retriever | None = None) -> Answer:
    """Answer `question` from the articles, citing the sentences the reader found the answer in.

    Raises BadQuestion for an unusable question; "the articles don't say" is an Answer, not an error.
    """
    g = gather(engine, question, history, top_k, article_ids, retriever)
    q = g.query
    fields = dict(search_query=q.search_query, index_version=g.index.name)
    if not q.terms and not history and article_ids is None:  # "When?" opening a conversation, over everything
        return ask_what_about(q.asked, **fields)
    if not g.hits:
        return abstain(q.asked, **fields)
    best = g.readings[0] if g.readings else None
    evidence = signals(q, g.hits, [r.sentence for r in g.readings] or g.scored, g.index, best)
    fields["details"] = {"signals": evidence.as_dict(), "followup": q.followup, "answer_type": q.kind}
    if q.text != q.asked:
        fields["details"]["spelled_as"] = q.text
    if not evidence.answered or best is None:
        return abstain(q.asked, **fields)
    chosen = choose_readings(g.readings)
    fields["details"]["reader"] = {"span_score": round(best.span_score, 3), "null_score": round(best.null_score, 3),
                                   "probability": round(best.probability, 4)}
    if q.yes_no:
        # The sentence the reader found most to say in decides it; the verdict only when the model is sure.
        decides = chosen[0].sentence
        judged = verdict_evidence(q.text, decides.text)
        said = judged.verdict()
        fields["details"]["verdict"] = judged.as_dict()
        return with_sources(compose(q.asked, [decides], span=said, lead=f"{said.capitalize()}." if said else "",
                                    **fields), g.index.articles)
    # Issue 35: a set question answered whole, "Who is X?" with X's role (answer/lists.py); else the chosen readings.
    whole = complete_answer(q, g.scored, g.readings, chosen)
    if whole is not None:
        return with_sources(compose(q.asked, whole.sentences, span=whole.span, members=whole.members, **fields),
                            g.index.articles)
    return with_sources(compose(q.asked, [r.sentence for r in chosen], span=best.span or None, **fields),
                        g.index.articles)
