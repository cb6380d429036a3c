"""The FAISS index: exact or inverted-file inner product over stable integer ids."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import numpy as np

Kind = Literal["flat", "ivf", "auto"]
KINDS: tuple[str, ...] = ("flat", "ivf", "auto")
# "auto" turns approximate at this many passages. Measured (benchmarks/run.py, 2 cores, one thread
# a query): exact search at depth 50 costs about 1 ms at 10k passages, 6 ms at 30k and 22 ms at
# 100k, against 15-35 ms to embed the query; below 20k it is a few ms at most and an IVF's lists
# would be too thin to train well, above it grows linearly while IVF keeps recall@10 at 1.00 on the
# benchmark corpus. That corpus flatters IVF (its clusters of near-copies fall into whole lists);
# on the 1,313 real-vector passages of the benchmark, 8 of 33 lists gave recall@10 0.96. So the
# front-ends' default stays "flat" until a large real corpus shows IVF's recall.
AUTO_IVF_PASSAGES = 20_000
# k-means wants at least 39 training points per list (FAISS warns below that).
MIN_POINTS_PER_LIST = 39


def _faiss():
    # Threads are the process's (bot/runtime.py: one OpenMP thread a thread, set before FAISS loads).
    import faiss

    return faiss


def resolve(kind: str, passages: int) -> str:
    """The kind an index of `passages` rows gets: "auto" is exact below AUTO_IVF_PASSAGES."""
    if kind not in KINDS:
        raise ValueError(f"unknown dense index {kind!r}: choose from {', '.join(KINDS)}")
    if kind == "auto":
        return "ivf" if passages >= AUTO_IVF_PASSAGES else "flat"
    return kind


def ivf_lists(passages: int) -> int:
    """About 4 sqrt(n) lists (a power of two), never thinner than k-means can train."""
    wanted = 1 << max(0, int(math.log2(max(1.0, 4 * math.sqrt(passages)))))
    return max(1, min(wanted, passages // MIN_POINTS_PER_LIST))


def ivf_probes(lists: int) -> int:
    # One list in 16, and at least 8: recall@10 and @50 were 1.00 on the 100k benchmark corpus with
    # one in 32, and real vectors of 1.3k passages needed a quarter of thin lists; this leaves a margin.
    return min(lists, max(8, lists // 16))


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
