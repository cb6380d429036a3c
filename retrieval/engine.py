"""The Engine (a published index and the models) and `ask`, the one function every front-end calls."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Collection, Sequence

from retrieval import store
from retrieval.answer import abstain, candidate_sentences, choose, compose, query_weights, score_sentences
from retrieval.conversation import resolve
from retrieval.confidence import signals
from retrieval.embed import Embedder
from retrieval.errors import CiteqaError, IndexCorrupt, IndexNotFound, ModelMismatch
from retrieval.question import answer_type, clean_question
from retrieval.spans import find_span, main_verb, parse
from retrieval.search import Retriever, SearchIndex, diversify, search
from retrieval.types import Answer, Turn

log = logging.getLogger(__name__)


class Engine:
    """Holds the loaded index and swaps in a newly published version without stopping questions.

    `ask` takes `engine.index` once, so a question in flight finishes on the version it started with.
    """

    def __init__(self, index_dir: Path, embedder: Embedder, retriever: Retriever = "hybrid"):
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.retriever = retriever
        self._index: SearchIndex | None = None
        self._reload_lock = threading.Lock()
        self.load_error: str | None = None  # why the last reload failed; None once one succeeds
        self._refused: tuple[str, CiteqaError] | None = None  # versions never change: one refused is not read again

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder, **kwargs) -> "Engine":
        engine = cls(index_dir, embedder, **kwargs)
        engine.reload()
        return engine

    @property
    def index(self) -> SearchIndex:
        index = self._index
        if index is None:
            raise IndexNotFound(f"no index loaded from {self.index_dir}")
        return index

    @property
    def ready(self) -> bool:
        return self._index is not None

    def warm_up(self) -> None:
        """Load the models now rather than in the first question (the embedder and spaCy load lazily)."""
        self.embedder.encode(["warm up"])
        parse("Warm up.")

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
            name = store.current_name(self.index_dir)
            if name is None:
                raise IndexNotFound(f"no index published in {self.index_dir}: run `citeqa index` first")
            if self._index is not None and self._index.name == name:
                return False
            if self._refused and self._refused[0] == name:
                refused = self._refused[1]
                raise type(refused)(str(refused))  # a fresh one: re-raising one object grows its traceback
            started = time.perf_counter()
            try:
                version = store.load_version(self.index_dir / "versions" / name)
            except IndexCorrupt as err:
                # Several refreshes in a row may publish and prune the version we were reading: try the new one.
                attempts -= 1
                if attempts and store.current_name(self.index_dir) != name:
                    continue
                if store.current_name(self.index_dir) == name:
                    self._refused = (name, err)
                raise
            if version.model != self.embedder.name:
                err = ModelMismatch(f"index {name} was embedded with {version.model!r}, "
                                    f"but questions would be embedded with {self.embedder.name!r}: run `citeqa index`")
                self._refused = (name, err)
                raise err
            self._index = SearchIndex(version)
            log.info("loaded index %s: %d articles, %d passages in %.2fs", name, len(version.articles),
                     len(version.passages), time.perf_counter() - started)
            return True


def ask(engine: Engine, question: str, history: Sequence[Turn] = (), top_k: int = 3,
        article_ids: Collection[str] | None = None, retriever: Retriever | None = None) -> Answer:
    """Answer `question` from the articles, citing the passages the answer's sentences come from.

    Raises BadQuestion for an unusable question; "the articles don't say" is an Answer, not an error.
    """
    asked = clean_question(question)
    index = engine.index
    # Misspelt words are put right before anything else: the search, the scoring and the checks all
    # read the question as the corpus spells it; the answer keeps the question as it was asked.
    question = index.speller.correct(asked)
    resolved = resolve(question, history)
    kind = answer_type(question)
    hits = diversify(search(index, engine.embedder, resolved.search_query, k=max(top_k, 3) * 3,
                            retriever=retriever or engine.retriever, article_ids=article_ids,
                            prefer=resolved.prefer))[:top_k]
    fields = dict(search_query=resolved.search_query, index_version=index.name)
    if not hits:
        return abstain(asked, **fields)
    wanted = query_weights(question, index.sparse.weight, resolved.context)
    scored = score_sentences(candidate_sentences(hits, top_k, index.sentences_of), question, wanted, kind)
    evidence = signals(question, wanted, hits, scored, index.sparse)
    fields["details"] = {"signals": evidence.as_dict(), "followup": resolved.followup, "answer_type": kind}
    if question != asked:
        fields["details"]["spelled_as"] = question
    if not evidence.answered:
        return abstain(asked, **fields)
    chosen = choose(scored, wanted, predicate=lambda: main_verb(question))
    return compose(asked, chosen, span=find_span(question, kind, chosen), **fields)
