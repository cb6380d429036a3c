"""The FAISS index: exact inner product over stable integer ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _faiss():
    import faiss

    # One thread: a single query over a flat index is faster and steadier on a shared 2-core machine.
    faiss.omp_set_num_threads(1)
    return faiss


class DenseIndex:
    """IndexIDMap2 over IndexFlatIP: removing one article's rows never shifts another's id."""

    def __init__(self, index):
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, rows: np.ndarray) -> "DenseIndex":
        faiss = _faiss()
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
        if len(rows):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(rows, dtype=np.int64))
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> "DenseIndex":
        faiss = _faiss()
        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError as err:  # FAISS reports unreadable files as RuntimeError
            raise OSError(f"cannot read FAISS index {path}: {err}") from err

    def save(self, path: Path) -> None:
        _faiss().write_index(self.index, str(path))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row id, cosine) of the k nearest rows, best first."""
        k = min(k, len(self))
        if k <= 0:
            return []
        # OpenMP's thread count is per calling thread: a server's worker threads start with the
        # default (every core) whatever the main thread set, so set it where the search runs.
        _faiss()
        scores, ids = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
