"""Answer-text metrics: SQuAD v1.1's normalisation and token F1, and which gold answers a span can be scored on."""

from __future__ import annotations

import collections
import re
import string


def is_short(answers: tuple[str, ...]) -> bool:
    """Every gold answer five words or fewer: a span can be scored against them."""
    return all(len(a.split()) <= 5 for a in answers)


def squad_normalise(text: str) -> str:
    """SQuAD v1.1's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, truth: str) -> float:
    predicted, true = squad_normalise(prediction).split(), squad_normalise(truth).split()
    common = sum((collections.Counter(predicted) & collections.Counter(true)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(true)
    return 2 * precision * recall / (precision + recall)
