"""The index behind one interface: a `Store` and the `Snapshot`s it loads, whichever store holds them.

A `Store` is what the refresh job and the engine use: which snapshot is published, load it, bring it
up to date with a folder. A `Snapshot` is what one question reads: search, the passages it finds
and their sentences, the corpus's term weights and names, the articles. `ask`, the front-ends and
eval talk to these two only; a passage's `key` is an int that means something to its snapshot alone.
"""

from __future__ import annotations

from pathlib import Path
import bisect
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Collection, Mapping, Protocol

import numpy as np

from retrieval.index.sentence_table import Sentences
from retrieval.terms import terms
from retrieval.types import Article, Passage

if TYPE_CHECKING:
    from retrieval.embed.embedders import Embedder
    from retrieval.index.refresh import Progress, RefreshReport
    from retrieval.question.spelling import Speller


@dataclass(frozen=True, slots=True)
class Lexical:
    """A lexical (BM25) search: its ranking, best first, and the scores of any passages asked for."""

    ranking: list[tuple[int, float]]
    scores: Callable[[list[int]], dict[int, float]]


class Articles(Protocol):
    """article id -> Article, read when asked for; `headings` are (id, title, date, published) in id order."""

    headings: list[tuple[str, str, str | None, str | None]]

    def __getitem__(self, article_id: str) -> Article: ...
    def __contains__(self, article_id: object) -> bool: ...
    def __iter__(self): ...
    def __len__(self) -> int: ...
    def hashes(self) -> dict[str, str]: ...


class Snapshot(Protocol):
    name: str
    model: str
    articles: Articles
    passage_count: int
    sparse: Mapping[str, float]  # term -> IDF over the corpus's passages
    speller: "Speller"

    def passage(self, passage_id: str) -> Passage | None: ...
    def passages_of(self, article_id: str) -> list[Passage]: ...
    def passage_by_row(self, row: int) -> Passage | None: ...
    def published_between(self, after: str, before: str) -> set[str]: ...
    # A search's primitives, over keys.
    def keys_of(self, article_ids: Collection[str]) -> np.ndarray: ...
    def passage_at(self, key: int) -> Passage: ...
    def article_id(self, key: int) -> str: ...
    def dense_search(self, vector: np.ndarray, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]: ...
    def lexical_search(self, search_terms: list[str], depth: int, allowed: np.ndarray | None) -> "Lexical": ...
    def cosines(self, keys: list[int], vector: np.ndarray) -> list[float]: ...
    def best_coverage(self, keys: list[int], wanted: dict[str, float]) -> dict[int, float]: ...
    def sentences_of(self, passage: Passage) -> Sentences: ...
    def passage_terms(self, passage: Passage) -> frozenset[str]: ...


class Store(Protocol):
    where: str  # for messages: the folder or the URI (never the token)

    def current_name(self) -> str | None: ...
    def load(self, name: str) -> Snapshot: ...
    def refresh(self, corpus: Path, embedder: "Embedder", progress: "Progress | None" = None, reuse: bool = True,
                **options) -> "RefreshReport": ...
    def close(self) -> None: ...


@functools.lru_cache(maxsize=4096)
def title_terms(title: str) -> frozenset[str]:
    """A title's terms, cached: titles repeat across an article's passages and the checks read them often."""
    return frozenset(terms(title))


class SharedReads:
    """What every Snapshot computes the same way from its own primitives (`articles.headings`, `sentences_of`)."""

    articles: Articles

    def sentences_of(self, passage: Passage) -> Sentences: ...

    @functools.cached_property
    def _by_date(self) -> tuple[list[str], list[str]]:
        # Sorted once per snapshot, on first use: a range is then two bisections, not a scan of every
        # article (77,000 at 100,000 passages) in every question. Computing it twice is harmless.
        pairs = sorted((published, i) for i, _, _, published in self.articles.headings if published)
        return [d for d, _ in pairs], [i for _, i in pairs]

    def published_between(self, after: str, before: str) -> set[str]:
        """Ids of the articles published from `after` to `before`, both included (ISO dates compare as text)."""
        dates, ids = self._by_date
        return set(ids[bisect.bisect_left(dates, after):bisect.bisect_right(dates, before)])

    def passage_terms(self, passage: Passage) -> frozenset[str]:
        """The terms of a passage's title and text, from its stored sentences."""
        held = {t for _, _, sentence_terms in self.sentences_of(passage) for t in sentence_terms}
        return title_terms(passage.title) | held
