"""The one refresh decision both stores make: what changed in the folder, what to keep, what to split and embed.

A store says what it holds (`Held`); `plan` reads the folder against it; `new_passages` splits and
embeds only the added and changed articles. Each store then writes in its own way."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from retrieval.articles.folder import Skipped, read_folder
from retrieval.articles.passages import MAX_WORDS, MIN_WORDS, split_passages
from retrieval.embed.embedders import Embedder
from retrieval.errors import NoArticles
from retrieval.types import Article, Passage

log = logging.getLogger(__name__)

# Anything that changes which passages or vectors an article gets; a mismatch re-embeds everything.
PIPELINE = {"passages": f"sentences-{MIN_WORDS}-{MAX_WORDS}-overlap1", "embed_text": "title+text", "cleaning": 1}
Progress = Callable[[int, int], None]
# Where a writer may be stopped: each store calls it with the names of its points as it gets there.
# Tests use it to kill or pause a refresh at a known point; nothing else should need it.
Checkpoint = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RefreshReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    articles: int = 0
    passages: int = 0
    embedded: int = 0  # passages embedded by this run
    seconds: float = 0.0
    version: str | None = None  # the version published, or None when nothing changed
    pruned: tuple[str, ...] = field(default=())
    held: tuple[str, ...] = ()  # skipped files whose article stays in the index as it was last read

    @property
    def published(self) -> bool:
        return self.version is not None


def embedding_text(passage: Passage) -> str:
    """What the model sees: the title gives a passage the topic its sentences take for granted."""
    return f"{passage.title}\n{passage.text}"


@dataclass(frozen=True, slots=True)
class Changes:
    """The folder against what a store holds, by content hash: what a refresh of either store must do."""

    articles: list[Article]  # every article of the new index, in id order (held ones as last indexed)
    kept: list[Article]  # unchanged: their passages and vectors stay as stored
    fresh: list[Article]  # added or changed: split and embedded
    removed: tuple[str, ...]
    report: dict  # the RefreshReport fields known before anything is written


def compare(corpus: Path, old: dict[str, str], last_indexed: Callable[[str], Article], max_bytes: int,
            settle_seconds: float) -> Changes:
    """Read the folder and compare it with `old` (article id -> content hash of what is indexed).

    A file skipped this time (changing, half-written, vanished) whose article is indexed keeps it as
    it was: `last_indexed` reads that article back from the store.
    """
    articles, skipped = read_folder(corpus, max_bytes=max_bytes, settle_seconds=settle_seconds)
    held = sorted({Path(s.path).stem for s in skipped} & (set(old) - {a.id for a in articles}))
    for article_id in held:
        log.warning("kept %s as last indexed: its file was skipped this time", article_id)
    articles = sorted(articles + [last_indexed(a) for a in held], key=lambda a: a.id)
    if not articles:
        reasons = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in skipped) or "no .txt or .md files"
        raise NoArticles(f"no usable article in {corpus} ({reasons})")
    kept = [a for a in articles if old.get(a.id) == a.sha256]
    fresh = [a for a in articles if old.get(a.id) != a.sha256]
    removed = tuple(sorted(set(old) - {a.id for a in articles}))
    report = dict(added=tuple(a.id for a in fresh if a.id not in old), changed=tuple(a.id for a in fresh if a.id in old),
                  removed=removed, unchanged=tuple(a.id for a in kept), skipped=tuple(skipped),
                  articles=len(articles), held=tuple(held))
    return Changes(articles, kept, fresh, removed, report)


def split_all(articles: list[Article], next_row: int) -> tuple[list[Passage], int]:
    """Every passage of `articles`, rows numbered on from `next_row`; and the next row after them."""
    passages: list[Passage] = []
    for article in articles:
        split = split_passages(article, first_row=next_row)
        next_row += len(split)
        passages.extend(split)
    return passages, next_row


def embed_passages(embedder: Embedder, passages: list[Passage], progress: Progress | None,
                   checkpoint: Checkpoint | None = None, batch: int = 256) -> np.ndarray:
    texts = [embedding_text(p) for p in passages]
    if not texts:
        return np.zeros((0, 0), np.float32)
    # Longest first across the whole set, not only inside each chunk: a batch of similar lengths
    # carries little padding, and chunking for progress must not cost the model's own speed (chunks
    # of 256 came within 3 % of one call over everything; chunks of 64 lost 8 %).
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    chunks = []
    if progress:
        progress(0, len(texts))
    for i in range(0, len(texts), batch):
        chunks.append(embedder.encode([texts[j] for j in order[i:i + batch]]))
        if checkpoint and i == 0:
            checkpoint("embedding")
        if progress:
            progress(min(i + batch, len(texts)), len(texts))
    sorted_vectors = np.concatenate(chunks)
    vectors = np.empty_like(sorted_vectors)
    vectors[order] = sorted_vectors
    return vectors


@dataclass(frozen=True, slots=True)
class Held:
    """What a store holds, as far as a refresh builds on it."""

    model: str
    settings: dict | None
    hashes: dict[str, str]  # article id -> content hash
    next_row: int
    article: Callable[[str], Article]  # an indexed article read back


def builds_on(model_held: str, settings_held: dict | None, model: str) -> bool:
    """Whether what a store holds can be refreshed in place: made by this model and this pipeline.
    Otherwise everything is split and embedded again."""
    if model_held != model or settings_held != PIPELINE:
        log.info("rebuilding from scratch: the index was made with %s %s", model_held, settings_held)
        return False
    return True


@dataclass(frozen=True, slots=True)
class Plan:
    changes: "Changes"
    held: Held | None  # None: build from scratch
    up_to_date: bool  # nothing to write: the folder is what the store holds

    def report(self, **fields) -> "RefreshReport":
        return RefreshReport(**self.changes.report, **fields)


def plan(corpus: Path, held: Held | None, model: str, max_bytes: int, settle_seconds: float,
         same_layout: bool = True) -> Plan:
    """The folder against what the store holds. `same_layout` is False when the store would lay out what it
    holds differently now (another dense index): then an unchanged folder is written again, without embedding."""
    if held is not None and not builds_on(held.model, held.settings, model):
        held = None
    changes = compare(corpus, held.hashes if held else {}, held.article if held else _nothing_indexed, max_bytes,
                      settle_seconds)
    up_to_date = held is not None and not changes.fresh and not changes.removed and same_layout
    return Plan(changes, held, up_to_date)


def _nothing_indexed(article_id: str) -> Article:
    raise KeyError(article_id)


def new_passages(plan: Plan, embedder: Embedder, progress: Progress | None = None,
                 checkpoint: Checkpoint | None = None) -> tuple[list[Passage], np.ndarray, int]:
    """The passages of the added and changed articles, rows numbered on from what the store holds; their
    vectors; and the next row after them."""
    passages, next_row = split_all(plan.changes.fresh, plan.held.next_row if plan.held else 0)
    return passages, embed_passages(embedder, passages, progress, checkpoint), next_row
