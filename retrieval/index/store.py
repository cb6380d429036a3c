"""The index behind one interface: file-and-FAISS versions (the default) or a Milvus collection.

    CITEQA_STORE_URI unset     the versions under CITEQA_INDEX (retrieval.index.files.versions), FAISS and bm25s
    ....db                     an embedded milvus-lite file (retrieval.index.milvus.store)
    http(s)://host:port        a Milvus server or cluster, CITEQA_STORE_TOKEN its token

A `Store` is what the refresh job and the engine use: which snapshot is published, load it, bring it
up to date with a folder. A `Snapshot` is what one question reads: search, the passages it finds
and their sentences, the corpus's term weights and names, the articles. `ask`, the front-ends and
eval talk to these two only; a passage's `key` is an int that means something to its snapshot alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Collection, Mapping, Protocol

import numpy as np

from retrieval.errors import CiteqaError
from retrieval.index.sentence_table import Sentences
from retrieval.types import Article, Passage

if TYPE_CHECKING:
    from retrieval.embed.embedders import Embedder
    from retrieval.index.refresh import Progress, RefreshReport
    from retrieval.search.ranking import Lexical
    from retrieval.question.spelling import Speller


class StoreUnavailable(CiteqaError):
    """The store the settings name cannot be reached or does not fit (URI, token, dimension)."""


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


def open_store(index_dir: Path, uri: str | None = None, token: str | None = None) -> Store:
    """The store the settings choose (see the module's docstring)."""
    if not uri:
        from retrieval.index.files.store import FileStore
        return FileStore(Path(index_dir))
    if uri.endswith(".db") or uri.startswith(("http://", "https://")):
        from retrieval.index.milvus.store import MilvusStore
        return MilvusStore(uri, token)
    raise StoreUnavailable(f"CITEQA_STORE_URI={uri!r} is neither a milvus-lite file (….db) nor http(s)://host:port")
