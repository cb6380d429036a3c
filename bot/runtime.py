"""What a citeqa process sets before it loads anything, in one place: each entry point calls `prepare` first.

- Models come from disk, never from a hub (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE), as they must behind
  a firewall.
- One OpenMP and BLAS thread in every thread of the process (FAISS, torch, numpy): a server's
  parallelism is across questions, and on a shared 2-core machine two OpenMP threads wait for each
  other at every layer (one query's embedding on torch took 370 ms at p50 against 70 ms with one
  thread, load 8). OpenMP reads OMP_NUM_THREADS once, when it loads, for every thread it will ever
  serve, which is why this runs before numpy, FAISS or torch is imported: omp_set_num_threads would bind
  only the thread that calls it, not a server's worker threads. ONNX Runtime sizes its own pools
  (retrieval.embed.onnx_runtime: one thread for the reader, the default for the embedder's batches).
- Batch work (building an index on torch) takes every core back: `for_batch_work`.

Only os is imported here. Variables already set are left as they are: an operator's choice wins.
"""

from __future__ import annotations

import os

OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def prepare() -> None:
    for name in OFFLINE + ONE_THREAD:
        os.environ.setdefault(name, "1")


def for_batch_work(settings) -> None:
    """Every core for embedding a whole corpus with torch, in this (the calling) thread."""
    if settings.embed_backend == "torch" and not settings.model.startswith("hashing-"):
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
