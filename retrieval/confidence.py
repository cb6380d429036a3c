"""Whether the retrieved passages answer the question at all, from signals that hold across corpora."""

from __future__ import annotations

from retrieval.answer import Sentence, coverage
from retrieval.types import Hit

MIN_COSINE = 0.25
MIN_COVERAGE = 0.3


def is_answered(wanted: dict[str, float], hits: list[Hit], scored: list[Sentence]) -> bool:
    if not hits or not scored:
        return False
    best_cosine = max((h.dense for h in hits if h.dense is not None), default=0.0)
    if not wanted:
        return best_cosine >= MIN_COSINE
    return best_cosine >= MIN_COSINE and coverage(wanted, scored[0].text) >= MIN_COVERAGE
