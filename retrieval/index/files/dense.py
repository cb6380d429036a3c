"""The FAISS index: exact or inverted-file inner product over stable integer ids."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from retrieval.index.ivf import ivf_lists, ivf_probes, resolve

def _faiss():
    # Threads are the process's (bot/runtime.py: one OpenMP thread a thread, set before FAISS loads).
    import faiss

    return faiss


class DenseIndex:
    """IndexIDMap2 over IndexFlatIP (exact) or IndexIVFFlat (approximate): a row id never shifts.

    Every version is built afresh from its stored vectors, so an IVF's lists are trained on the
    passages it holds; efSearch-like knobs (nprobe) are saved in the file.
    """

    def __init__(self, index):
        self.index = index
        if self.kind == "ivf":  # an IVF reconstructs a row only through a map from ids to list positions
            _faiss().extract_index_ivf(index).make_direct_map()

    @classmethod
    def build(cls, vectors: np.ndarray, rows: np.ndarray, kind: str = "flat",
              lists: int | None = None, probes: int | None = None) -> "DenseIndex":
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension = vectors.shape[1]
        if resolve(kind, len(rows)) == "ivf" and len(rows):
            lists = lists or ivf_lists(len(rows))
            inner = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
            inner.nprobe = min(lists, probes or ivf_probes(lists))
            # Training is batch work: every core for it, then this thread's setting as it was.
            before = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            try:
                inner.train(vectors)
            finally:
                faiss.omp_set_num_threads(before)
        else:
            inner = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIDMap2(inner)
        if len(rows):
            index.add_with_ids(vectors, np.asarray(rows, dtype=np.int64))
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

    @property
    def kind(self) -> str:
        """"flat" or "ivf", read from the FAISS index itself."""
        inner = _faiss().downcast_index(self.index.index) if hasattr(self.index, "index") else self.index
        return "ivf" if type(inner).__name__.startswith("IndexIVF") else "flat"

    def describe(self) -> dict:
        """What the manifest records about this index."""
        if self.kind == "ivf":
            inner = _faiss().extract_index_ivf(self.index)
            return {"kind": "ivf", "lists": int(inner.nlist), "probes": int(inner.nprobe)}
        return {"kind": "flat"}

    def vectors_of(self, rows) -> np.ndarray:
        """The stored vectors of these row ids, from FAISS's own copy: a search's other reads of vectors
        (cosines of BM25-only candidates, a filtered search) touch no second copy of them."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.index.reconstruct_batch(rows)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row id, cosine) of the k nearest rows, best first."""
        k = min(k, len(self))
        if k <= 0:
            return []
        scores, ids = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
