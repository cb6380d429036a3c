"""When the dense index turns approximate (IVF), and how many lists it gets and probes: one rule for both stores."""

from __future__ import annotations

import math
from typing import Literal

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
