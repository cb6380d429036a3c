"""Bring the file versions up to date with the folder: the shared refresh plan, then a new version written whole."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from retrieval.articles.folder import MAX_ARTICLE_BYTES
from retrieval.embed.embedders import Embedder
from retrieval.errors import CiteqaError
from retrieval.index import ivf
from retrieval.index.files import versions as store
from retrieval.index.files.text_index import TextIndex
from retrieval.index.refresh import PIPELINE, Checkpoint, Held, Progress, RefreshReport, new_passages, plan
from retrieval.types import Passage

log = logging.getLogger(__name__)


def build(corpus: Path, index_dir: Path, embedder: Embedder, progress: Progress | None = None,
          max_bytes: int = MAX_ARTICLE_BYTES, checkpoint: Checkpoint | None = None,
          settle_seconds: float = 0.0, dense_index: str = "flat") -> RefreshReport:
    """Index the folder from scratch and publish it."""
    return refresh(corpus, index_dir, embedder, progress, max_bytes, reuse=False, checkpoint=checkpoint,
                   settle_seconds=settle_seconds, dense_index=dense_index)


def refresh(corpus: Path, index_dir: Path, embedder: Embedder, progress: Progress | None = None,
            max_bytes: int = MAX_ARTICLE_BYTES, reuse: bool = True, checkpoint: Checkpoint | None = None,
            settle_seconds: float = 0.0, dense_index: str = "flat") -> RefreshReport:
    """Compare the folder with the published manifest by content hash and publish what changed.

    Unchanged articles keep their passages and stored vectors; when nothing changed nothing is
    published and the model is never loaded. Raises RefreshBusy while another refresh runs.
    A file that cannot be read this time (changing, half-written, vanished) is skipped with a
    warning; if the index had its article, that stays as it was until a refresh reads the file
    again or finds it gone. `checkpoint` is called with "embedding" after the first batch is
    embedded, then as `store.write_version` describes. `dense_index` ("flat", "ivf" or "auto") is
    the FAISS index each version gets; a change of it alone republishes without embedding.
    """
    started = time.perf_counter()
    ivf.resolve(dense_index, 0)  # an unknown kind fails before anything is embedded
    with store.writer_lock(index_dir):
        store.prune(index_dir)  # first: what an interrupted refresh left must not survive this one
        previous = _published(index_dir) if reuse else None
        held = _held(previous) if previous else None
        same_dense = previous is not None and previous.dense.kind == ivf.resolve(dense_index, len(previous.passages))
        decided = plan(corpus, held, embedder.name, max_bytes, settle_seconds, same_layout=same_dense)
        if decided.up_to_date:
            return decided.report(passages=len(previous.passages), seconds=time.perf_counter() - started)
        previous = previous if decided.held else None

        fresh, new_vectors, next_row = new_passages(decided, embedder, progress, checkpoint)
        by_article: dict[str, list[tuple[Passage, np.ndarray]]] = {}
        for article in decided.changes.kept:
            by_article[article.id] = [(p, previous.vectors[previous.position[p.row]]) for p in previous.passages_of(article.id)]
        for p, v in zip(fresh, new_vectors):
            by_article.setdefault(p.article_id, []).append((p, v))
        articles = decided.changes.articles
        ordered = [pair for a in articles for pair in by_article.get(a.id, [])]
        dimension = new_vectors.shape[1] if len(new_vectors) else previous.vectors.shape[1]
        vectors = np.stack([v for _, v in ordered]) if ordered else np.zeros((0, dimension), np.float32)
        passages = [p for p, _ in ordered]
        # The kept passages' sentences and term ids are copied as stored; only the new ones are split.
        text = TextIndex.build(passages, previous.text, previous.position) if previous else None
        version = store.write_version(
            index_dir, articles, passages, vectors, model=embedder.name,
            settings=PIPELINE, next_row=next_row, checkpoint=checkpoint, dense_index=dense_index, text=text,
        )
        pruned = store.prune(index_dir)
        return decided.report(passages=len(ordered), embedded=len(fresh), seconds=time.perf_counter() - started,
                              version=version, pruned=tuple(pruned))


def _published(index_dir: Path) -> store.IndexVersion | None:
    """The published version to build on, or None to rebuild: none yet, or unreadable."""
    try:
        return store.load_current(index_dir)
    except CiteqaError as err:
        if store.current_name(index_dir) is not None:
            log.warning("rebuilding from scratch: %s", err)
        return None


def _held(version: store.IndexVersion) -> Held:
    return Held(version.model, version.manifest.get("settings"), version.articles.hashes(), version.manifest["next_row"],
                lambda article_id: version.articles[article_id])
