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
the seed and XQuAD dev questions, of the unanswerable questions written for both corpora in
tests/data/, of the near-topic ones made from the dev questions by swapping a name
(benchmarks/swapped_names.py): "How many patent applications did Shanghai file?" over articles
about Beijing reads like an answerable question, and the hand-written few were too few to fit on; and of
the CoQA CNN conversations' follow-up turns, each asked over its own story (answerable) and over another
story (unanswerable): "And his title?" is answered when the conversation supplies who, and refused when
the story is silent. Questions asked in a context (a follow-up, or over one chosen article) are judged by a model
fitted on the CoQA turns (IN_CONTEXT), open questions by one fitted on the development sets' first questions.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from retrieval.answer.candidates import Sentence
from retrieval.parameters import FITTED
from retrieval.question.query import Query
from retrieval.terms import normalise
from retrieval.types import Hit

WEIGHTS = FITTED["abstention"]["WEIGHTS"]
BIAS = FITTED["abstention"]["BIAS"]
# Abstain when the model gives "unanswered" more than this: a false abstention costs a user a true
# answer, so the bar is the lowest doubt at which at most 1 % of answerable questions are refused,
# read off out-of-fold doubts (five folds by article; the figures are in retrieval/parameters.json's manifest).
MAX_DOUBT = FITTED["abstention"]["MAX_DOUBT"]
# A question read in a context the asker gave (a follow-up leaning on the conversation, or a question over
# the one article the asker chose) has a model of its own, with the same signals and its own bar: its words alone run
# lower when answered ("How many times?" over the story it is about). One model for both refused more of them and
# fewer of the open questions the articles are silent on (docs/decisions/0017-conversation-turns.md).
IN_CONTEXT = FITTED["abstention"]["IN_CONTEXT"]
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
    in_context: bool = False  # which model judges it: IN_CONTEXT's, or the open questions' one

    @property
    def doubt(self) -> float:
        """The model's probability that the passages do not answer the question."""
        weights, bias = (IN_CONTEXT["WEIGHTS"], IN_CONTEXT["BIAS"]) if self.in_context else (WEIGHTS, BIAS)
        z = bias + sum(w * getattr(self, name) for name, w in weights.items())
        return 1.0 / (1.0 + math.exp(-z))

    @property
    def answered(self) -> bool:
        return self.doubt <= (IN_CONTEXT["MAX_DOUBT"] if self.in_context else MAX_DOUBT)

    def as_dict(self) -> dict:
        return {**asdict(self), "doubt": round(self.doubt, 4)}


def signals(query: Query, hits: list[Hit], scored: list[Sentence], index, reading=None) -> Signals:
    """The signals of one question; `index` is the search index the hits come from (its stored terms),
    `reading` the reader's best (a reading.Reading), when it found one."""
    # Lower-cased, accents folded: where the question's names are looked for.
    mentioned = " ".join(normalise(f"{h.passage.title} {h.passage.text}") for h in hits)
    # A name counts as mentioned by any of its words: "Graham Twigg" is the passage's "Twigg".
    named = sum(any(re.search(form, mentioned) for form in forms) for forms in query.name_forms)
    return Signals(
        cosine=max((h.dense for h in hits if h.dense is not None), default=0.0),
        # Of the resolved question: a follow-up is not "too little to answer" when the conversation supplies the rest.
        sentence_coverage=query.resolved_coverage(set(scored[0].terms)) if scored else 0.0,
        passage_coverage=max((query.resolved_coverage(index.passage_terms(h.passage)) for h in hits), default=0.0),
        entity_coverage=named / len(query.name_forms) if query.name_forms else 1.0,
        # A name with a word the whole corpus never contains: "Eiffel Tower", "Beijing National Stadium"
        # (numbers aside: "2013" may be phrased otherwise).
        unseen_entity=float(any(t not in index.sparse for t in query.name_terms)),
        reader_margin=max(-MARGIN_CLIP, min(MARGIN_CLIP, reading.span_score - reading.null_score)) if reading else -MARGIN_CLIP,
        reader_probability=reading.probability if reading else 0.0,
        # Over one article: CoQA's setting, the only one the fitting data has; a date range over many is an open question.
        in_context=query.followup or (query.article_ids is not None and len(query.article_ids) == 1),
    )

