"""The reader over the retrieved passages: each candidate sentence with the best answer span inside it.

The reader reads the best-scored candidate sentences of the top passages (each with the sentence before
it) beside the question; its span score for a sentence, plus the sentence's retrieval score weighted,
ranks the sentences the answer quotes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from retrieval.answer.candidates import Sentence
from retrieval.answer.reader import Span
from retrieval.parameters import FITTED
from retrieval.types import Hit

# How much the sentence's own score (term coverage, bigrams, the passage's retrieval prior; about
# 0-2) adds to the reader's span score (start + end logits, about -10 to 20). Fitted on the tuning
# parts (benchmarks/fit_answer.py): the retrieval evidence weighs about as much as the reader's
# (the reader trained on sentence runs without answers leans on it more: 10 against 3 before).
W_SENTENCE = FITTED["reading"]["W_SENTENCE"]
# What of the reader's output ranks sentences across windows: "score" (start + end logits), "margin"
# (that over the window's "no answer"), or "logprob" (the log of the span's share in its window).
# Raw logits are known to compare poorly across windows; which serves best is fitted too.
READER_TERM = FITTED["reading"]["READER_TERM"]
# A second sentence from the answer's article is quoted when the reader finds an answer in it too
# (its span beats its window's "no answer") nearly as good as the first's: within this many logits,
# about e^-2 as likely. "Who attended ...?" names people in more than one sentence.
SECOND_MARGIN = FITTED["reading"]["SECOND_MARGIN"]
# How many of the best-scored candidate sentences the reader reads (each with the one before it);
# None reads the top passages whole. The reader's time grows with what it reads: on the tuning parts
# five gave span F1 and the answer in the first sentence about as good as whole passages (0.762 and
# 0.922 against 0.760 and 0.929 at their best, at 0.6 of their forward-pass time; three gave
# 0.750 and 0.905).
READ_SENTENCES: int | None = FITTED["reading"]["READ_SENTENCES"]


class SentenceReader(Protocol):
    def read_sentences(self, question: str, contexts: list[str],
                       sentences: list[list[tuple[int, int]]]) -> list[list[Span | None]]: ...


@dataclass(frozen=True, slots=True)
class Reading:
    sentence: Sentence
    start: int  # the span, in the article's offsets
    end: int
    span_score: float
    null_score: float  # the reader's "no answer in this window" score
    probability: float
    score: float  # what the sentences are ranked by

    @property
    def span(self) -> str:
        s = self.sentence
        return s.text[self.start - s.start:self.end - s.start]


def reader_term(score: float, null_score: float, probability: float, term: str = READER_TERM) -> float:
    """The reader's part of a sentence's score, from its span's score, null score and probability."""
    if term == "margin":
        return score - null_score
    if term == "logprob":
        return math.log(max(probability, 1e-12))
    return score


def read(reader: SentenceReader, question: str, hits: list[Hit], scored: list[Sentence],
         w_sentence: float = W_SENTENCE, most: int | None = READ_SENTENCES, term: str = READER_TERM) -> list[Reading]:
    """Every scored sentence that the reader read and found a span in, best first.

    The reader reads the `most` best-scored sentences, each with the sentence before it (where a
    pronoun's antecedent usually is), as runs of consecutive text; None reads the top passages whole.
    """
    passages = list({h.passage.id: h.passage for h in hits}.values())
    by_start = {(s.hit.passage.article_id, s.start): s for s in scored}
    to_read = None if most is None else {id(s) for s in scored[:most]}
    texts, bounds, owners = [], [], []
    for p in passages:
        mine = sorted((s for s in by_start.values() if s.hit.passage.article_id == p.article_id
                       and p.start <= s.start and s.end <= p.end), key=lambda s: s.start)
        keep = [to_read is None or id(s) in to_read or (k + 1 < len(mine) and id(mine[k + 1]) in to_read)
                for k, s in enumerate(mine)]
        for run in _runs(mine, keep):
            base = run[0].start
            texts.append(p.text[base - p.start:run[-1].end - p.start])
            bounds.append([(s.start - base, s.end - base) for s in run])
            owners.append((base, run))
    found = reader.read_sentences(question, texts, bounds)
    best: dict[tuple[str, int], Reading] = {}
    for spans, (base, run) in zip(found, owners):
        for span, sentence in zip(spans, run):
            if span is None:
                continue
            key = (sentence.hit.passage.article_id, sentence.start)
            reading = Reading(sentence, base + span.start, base + span.end, span.score, span.null_score,
                              span.probability, reader_term(span.score, span.null_score, span.probability, term)
                              + w_sentence * sentence.score)
            if key not in best or reading.score > best[key].score:  # a sentence two passages share
                best[key] = reading
    return sorted(best.values(), key=lambda r: -r.score)


def _runs(sentences: list[Sentence], keep: list[bool]) -> list[list[Sentence]]:
    """The kept sentences in runs of neighbours (consecutive in the passage)."""
    runs: list[list[Sentence]] = []
    for k, (s, kept) in enumerate(zip(sentences, keep)):
        if not kept:
            continue
        if runs and keep[k - 1] and k > 0:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def choose_readings(readings: list[Reading], margin: float = SECOND_MARGIN) -> list[Reading]:
    """The best reading, and the next one from the same article when the reader rates it nearly as well."""
    if not readings:
        return []
    first = readings[0]
    article = first.sentence.hit.passage.article_id
    second = next((r for r in readings[1:] if r.sentence.hit.passage.article_id == article), None)
    if second is not None and second.span_score > second.null_score and second.span_score >= first.span_score - margin:
        return [first, second]
    return [first]
