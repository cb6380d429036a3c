"""The figures of set questions (a questions file's `members`): how much of the set the answer names, and where.

- `list_span_recall`: the share of the gold members the answer's span names.
- `list_sentences_hold_all`: whether the answer's quoted sentences hold every gold member.
- `list_first_citation`: whether the first citation is from the question's article.
- `list_member_precision`: the share of the answer's members (its span when it lists none) that are gold.

Names are compared after SQuAD's normalisation; a member is named when its words stand in the text in order.
"""

from __future__ import annotations

import re

from retrieval.evaluate.metrics import squad_normalise


def names(text: str, member: str) -> bool:
    """Whether `text` names `member`: its normalised words, in order, as whole words."""
    want = squad_normalise(member)
    return bool(want) and f" {want} " in f" {squad_normalise(text)} "


def matches(predicted: str, gold: str) -> bool:
    """A predicted member is a gold one when either names the other ("Vice Mayor Ji Lin" and "Ji Lin"). Token
    F1 is not used: "Wang Hong" and "Wang Binying" share half their words and are two people."""
    return names(predicted, gold) or names(gold, predicted)


def item_f1(predicted: list[str], gold: list[str]) -> float:
    """F1 of the predicted members against the gold ones, each matched by `matches`."""
    if not predicted or not gold:
        return float(predicted == gold)
    recall = sum(any(matches(p, g) for p in predicted) for g in gold) / len(gold)
    precision = sum(any(matches(p, g) for g in gold) for p in predicted) / len(predicted)
    return 0.0 if not recall + precision else 2 * recall * precision / (recall + precision)


def gold_members(item) -> list[str]:
    """A question's gold members: its `members`, or for a single-answer question its `answer` strings."""
    return list(item.members or item.answer)


CITATION_MARK = re.compile(r"\s*\[\d+\]")  # an answer's "[1]": not words anybody said


def list_figures(item, answer) -> dict[str, float]:
    """The set figures of one answered question that carries `members`."""
    gold = list(item.members)
    span = answer.span or ""
    quoted = CITATION_MARK.sub(" ", answer.text) if not answer.abstained else ""
    predicted = [m.text for m in answer.members] or ([span] if span else [])
    return {
        "list_span_recall": sum(names(span, g) for g in gold) / len(gold),
        "list_sentences_hold_all": float(all(names(quoted, g) for g in gold)),
        "list_first_citation": float(bool(answer.citations) and answer.citations[0].article_id == item.article),
        "list_member_precision": (sum(any(matches(p, g) for g in gold) for p in predicted) / len(predicted)
                                  if predicted else 0.0),
    }
