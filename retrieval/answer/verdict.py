"""Yes or no: the verdict on a polar question from the sentence that decides it, when the model is sure.

A small logistic model over what the sentence says back to the question: how much of the question's
words it holds, whether one of them denies what the other asserts (a "not" on one side only), and
whether the question names a number or name the sentence lacks. Fitted by benchmarks/fit_verdict.py on
the tuning parts of BoolQ (split by title) and of the CoQA CNN conversations' yes/no turns (split by
story). A verdict is given only when the model's probability clears `MIN_SURE`; otherwise the answer is
the cited sentence alone, and the reader judges.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from retrieval.parameters import FITTED
from retrieval.terms import normalise, terms, tokens

WEIGHTS = FITTED["verdict"]["WEIGHTS"]
BIAS = FITTED["verdict"]["BIAS"]
MIN_SURE = FITTED["verdict"]["MIN_SURE"]  # the probability of the verdict given below which none is

# Words that deny: one on one side only turns an agreeing sentence into a "no".
_NEGATIONS = frozenset("not no never none nobody nothing neither nor without cannot n't denied denies deny "
                       "refused refuses refuse failed fails fail unable".split())
_NUMBER = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Evidence:
    overlap: float  # the share of the question's terms the sentence holds
    question_negated: float
    sentence_negated: float
    negation_differs: float
    missing_name: float  # the question names a number or a capitalised word the sentence lacks

    @property
    def yes_probability(self) -> float:
        z = BIAS + sum(w * getattr(self, name) for name, w in WEIGHTS.items())
        return 1.0 / (1.0 + math.exp(-z))

    def verdict(self, min_sure: float = MIN_SURE) -> str | None:
        """"yes" or "no" when the model is sure of it; None when it is not."""
        p = self.yes_probability
        if p >= min_sure:
            return "yes"
        if 1.0 - p >= min_sure:
            return "no"
        return None

    def as_dict(self) -> dict:
        return {**asdict(self), "yes_probability": round(self.yes_probability, 4)}


def negated(text: str) -> bool:
    words = tokens(text.replace("n't", " n't"))
    return any(w in _NEGATIONS for w in words) or "n't" in normalise(text)


def evidence(question: str, sentence: str) -> Evidence:
    """The signals of one question and the sentence that decides it."""
    asked, held = terms(question), set(terms(sentence))
    q_neg, s_neg = negated(question), negated(sentence)
    lowered = normalise(sentence)
    # Names as the question writes them: capitalised words after its first, and numbers.
    named = [w for w in re.findall(r"[A-Za-z0-9][\w.,'-]*", question)[1:] if w[0].isupper() or _NUMBER.search(w)]
    missing = any(normalise(w).strip(".,'") not in lowered for w in named)
    return Evidence(overlap=len([t for t in asked if t in held]) / len(asked) if asked else 0.0,
                    question_negated=float(q_neg), sentence_negated=float(s_neg),
                    negation_differs=float(q_neg != s_neg), missing_name=float(missing))


def verdict(question: str, sentence: str, min_sure: float = MIN_SURE) -> str | None:
    """"yes" or "no" when the model is sure of it; None when it is not."""
    return evidence(question, sentence).verdict(min_sure)
