"""The default store: versions of files under one folder (retrieval.index.files.versions), searched with FAISS and bm25s."""

from __future__ import annotations

from pathlib import Path

from retrieval.index.files import refresh as refreshing
from retrieval.index.files import versions as store
from retrieval.index.files.snapshot import FileSnapshot


class FileStore:
    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self.where = str(self.index_dir)

    def current_name(self) -> str | None:
        return store.current_name(self.index_dir)

    def load(self, name: str) -> FileSnapshot:
        return FileSnapshot(store.load_version(self.index_dir / "versions" / name))

    def refresh(self, corpus: Path, embedder, progress=None, reuse: bool = True, **options):
        return refreshing.refresh(corpus, self.index_dir, embedder, progress, reuse=reuse, **options)

    def close(self) -> None:
        pass
