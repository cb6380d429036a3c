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


def coqa_scores(kind: str | None, answers: tuple[str, ...], span: str | None, refused: bool,
                followup: bool) -> dict[str, float]:
    """CoQA's figures for one turn: the answer's short text (`span`) against the free-text
    answers people gave, token F1 after SQuAD's normalisation (the best over them), over every turn and by the
    turn's kind; a yes/no turn is right when the span is the verdict; a refusal scores 0 (no turn here has
    "unknown" as its answer)."""
    span = None if refused else span
    f1 = 0.0 if not span else max(token_f1(span, a) for a in answers)
    out = {"coqa_f1": f1, f"coqa_f1/{kind or 'unknown'}": f1, "refused": float(refused)}
    out["followup_coqa_f1" if followup else "first_turn_coqa_f1"] = f1
    if kind == "yesno":
        verdicts = {squad_normalise(a).split()[0] for a in answers if squad_normalise(a)}
        out["yesno_right"] = float(span is not None and squad_normalise(span) in verdicts)
    return out
