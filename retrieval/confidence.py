"""Whether the retrieved passages answer the question at all.

No single signal separates answerable from unanswerable questions (on the seeds some answerable
questions have a lower cosine than some unanswerable ones), so signals that keep their scale
from one corpus to another are combined by a logistic model:
- the best cosine of question and passage;
- how much of the question's weighted content words the best sentence holds, and the best passage;
- the share of the question's own names and numbers that the top passages mention;
- whether the question names something the corpus never mentions at all;
- the reader's best span over its window's "no answer" score, and that span's probability.
The weights were fitted by `benchmarks/fit_answer.py` on the tuning parts only (split by article) of
the seed and XQuAD dev questions and of the unanswerable questions written for both corpora in
tests/data/.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from retrieval.answer import Sentence, coverage
from retrieval.question import own_entities
from retrieval.sparse import SparseIndex
from retrieval.terms import terms, tokens
from retrieval.types import Hit

WEIGHTS = {"cosine": -2.25, "sentence_coverage": -1.37, "passage_coverage": -2.48, "entity_coverage": -2.38,
           "unseen_entity": 2.76, "reader_margin": -0.54, "reader_probability": -0.99}
BIAS = 9.15
# Abstain when the model gives "unanswered" more than this: a false abstention costs a user a true
# answer, so the bar is the highest share of refusals with at most 1 % false ones (tuning parts:
# 0.6 % false abstentions, 65 % of the unanswerable refused).
MAX_DOUBT = 0.95
MARGIN_CLIP = 10.0  # past this many logits either way the reader is as sure as it gets


@dataclass(frozen=True, slots=True)
class Signals:
    cosine: float
    sentence_coverage: float
    passage_coverage: float
    entity_coverage: float
    unseen_entity: float
    reader_margin: float = 0.0  # the best span's score over its window's "no answer" score, in logits
    reader_probability: float = 0.0  # the best span's share of the reader's belief in its window

    @property
    def doubt(self) -> float:
        """The model's probability that the passages do not answer the question."""
        z = BIAS + sum(w * getattr(self, name) for name, w in WEIGHTS.items())
        return 1.0 / (1.0 + math.exp(-z))

    @property
    def answered(self) -> bool:
        return self.doubt <= MAX_DOUBT

    def as_dict(self) -> dict:
        return {**asdict(self), "doubt": round(self.doubt, 4)}


def signals(question: str, wanted: dict[str, float], hits: list[Hit], scored: list[Sentence],
            sparse: SparseIndex, reading=None) -> Signals:
    """The signals of one question; `reading` is the reader's best (a reading.Reading), when it found one."""
    passages = [f"{h.passage.title} {h.passage.text}" for h in hits]
    mentioned = " ".join(tokens(" ".join(passages)))  # lower-cased, accents folded
    names = own_entities(question)
    # A name counts as mentioned by any of its words: "Graham Twigg" is the passage's "Twigg".
    named = [n for n in names if any(_word_in(w, mentioned) for w in n.split())]
    # A name with a word the whole corpus never contains: "Eiffel Tower", "Beijing National Stadium"
    # (numbers aside: "2013" may be phrased otherwise).
    unseen = any(term not in sparse for n in names if not any(c.isdigit() for c in n) for term in terms(n))
    return Signals(
        cosine=max((h.dense for h in hits if h.dense is not None), default=0.0),
        sentence_coverage=coverage(wanted, scored[0].text) if scored else 0.0,
        passage_coverage=max((coverage(wanted, p) for p in passages), default=0.0),
        entity_coverage=len(named) / len(names) if names else 1.0,
        unseen_entity=float(unseen),
        reader_margin=max(-MARGIN_CLIP, min(MARGIN_CLIP, reading.span_score - reading.null_score)) if reading else -MARGIN_CLIP,
        reader_probability=reading.probability if reading else 0.0,
    )


def _word_in(word: str, text: str) -> bool:
    """Whether a question's word (possessive dropped) occurs in tokenised text."""
    folded = " ".join(tokens(re.sub(r"['’]s$", "", word)))
    return bool(folded) and folded in text
