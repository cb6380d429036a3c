"""Compose an answer: choose the sentences that answer the question, number the passages they cite. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from retrieval.sentences import sentences_with_terms
from retrieval.terms import terms
from retrieval.types import Answer, Citation, Hit, Passage

NO_ANSWER = "The articles don't say."

# Sentence-score weights: term coverage dominates (it chose better sentences than MiniLM cosine on
# XQuAD); bigrams reward the question's phrasing, the passage prior its retrieval rank, and the
# answer-type bonus a sentence that holds the kind of thing asked for (a number, a date, a name).
W_BIGRAM, W_RANK, W_TYPE, W_LONG = 0.15, 0.8, 0.2, 0.004
SECOND_SENTENCE_SHARE = 0.5  # a second sentence must score at least this share of the first
# A follow-up's carried-over words count this much of their weight: they find the right article, but
# the sentence that answers is the one with the new question's own words.
CONTEXT_SHARE = 0.2
PRIOR_POWER = 4.0
# The second sentence earns this much for the question's words that the first one lacks: together
# they should cover the question, not say the same thing twice.
NOVELTY = 1.0


@dataclass(frozen=True, slots=True)
class Sentence:
    hit: Hit
    rank: int  # the passage's rank among the hits, from 0
    start: int  # offsets in the article
    end: int
    text: str
    score: float = 0.0
    covered: frozenset[str] = frozenset()  # the question's terms it holds
    terms: tuple[str, ...] = ()  # its search terms in order


Split = Callable[[Passage], Iterable[tuple[int, int, tuple[str, ...]]]]


def split_with_terms(passage: Passage) -> tuple[tuple[int, int, tuple[str, ...]], ...]:
    return sentences_with_terms(passage.text)


def candidate_sentences(hits: list[Hit], passages: int = 3, split: Split = split_with_terms) -> list[Sentence]:
    """The sentences of the top passages; `split` may be a search index's cache of the same."""
    out = []
    for rank, hit in enumerate(hits[:passages]):
        p = hit.passage
        for s, e, sentence_terms in split(p):
            out.append(Sentence(hit, rank, p.start + s, p.start + e, p.text[s:e], terms=sentence_terms))
    return out


def query_weights(question: str, weight: Callable[[str], float], context: str = "") -> dict[str, float]:
    """Each content term of the question with its weight (IDF); a follow-up's context terms count less."""
    wanted = {t: weight(t) for t in terms(question)}
    for term in terms(context):
        wanted.setdefault(term, CONTEXT_SHARE * weight(term))
    return wanted


def coverage(wanted: dict[str, float], text: str) -> float:
    """The weighted share of the question's terms that a text contains."""
    total = sum(wanted.values())
    if not total:
        return 0.0
    present = set(terms(text))
    return sum(w for t, w in wanted.items() if t in present) / total


def score_sentences(sentences: list[Sentence], question: str, wanted: dict[str, float],
                    answer_type: str | None = None) -> list[Sentence]:
    """Each sentence with its score against the question, best first."""
    total = sum(wanted.values()) or 1.0
    question_bigrams = _bigrams(terms(question))
    scored = []
    seen = set()
    top = max((s.hit.score for s in sentences), default=0.0)
    for s in sentences:
        if (s.hit.passage.article_id, s.start) in seen:  # the same sentence in two windows
            continue
        seen.add((s.hit.passage.article_id, s.start))
        sentence_terms = s.terms or tuple(terms(s.text))
        present = set(sentence_terms)
        covered = sum(w for t, w in wanted.items() if t in present) / total
        bigrams = len(question_bigrams & _bigrams(sentence_terms)) / len(question_bigrams) if question_bigrams else 0.0
        typed = W_TYPE if answer_type and _holds_type(s.text, answer_type, question) else 0.0
        long = W_LONG * max(0, len(sentence_terms) - 30)
        # The passage prior follows the retrieval score, not the rank: near-ties stay near-ties.
        prior = W_RANK * (s.hit.score / top) ** PRIOR_POWER if top > 0 else W_RANK / (1 + s.rank)
        score = covered + W_BIGRAM * bigrams + prior + typed - long
        scored.append(Sentence(s.hit, s.rank, s.start, s.end, s.text, score, frozenset(present & wanted.keys()),
                               sentence_terms))
    return sorted(scored, key=lambda s: -s.score)


def choose(scored: list[Sentence], wanted: dict[str, float], pool: int = 6,
           predicate: Callable[[], str | None] = lambda: None) -> list[Sentence]:
    """The best sentence, and a second one when it is good on its own or adds what the first lacks.

    Of two from one article, the one that holds the question's main verb (the term `predicate()`
    gives, asked for only then: it needs a parse) comes
    first: "What was signed at the ceremony?" is answered by the sentence that says what was signed,
    while the other one, about the ceremony, sets the scene. (Across articles the better-scored one
    stays first: there the verb alone too often comes from the wrong story.)
    """
    if not scored:
        return []
    first = scored[0]
    total = sum(wanted.values()) or 1.0

    def value(s: Sentence) -> float:
        return s.score + NOVELTY * sum(wanted[t] for t in s.covered - first.covered) / total

    second = max(scored[1:pool], key=value, default=None)
    if second is None or value(second) < SECOND_SENTENCE_SHARE * first.score:
        return [first]
    # The parse is asked for only when the verb could decide: the second holds a term the first lacks.
    if first.hit.passage.article_id == second.hit.passage.article_id and second.covered - first.covered:
        verb = predicate()
        if verb and verb in second.covered and verb not in first.covered:
            return [second, first]
    return [first, second]


def compose(question: str, chosen: list[Sentence], span: str | None = None, **fields) -> Answer:
    """The answer text: each chosen sentence followed by the number of the passage it comes from."""
    citations: list[Citation] = []
    number: dict[str, int] = {}
    parts = []
    for s in chosen:
        p = s.hit.passage
        if p.id not in number:
            number[p.id] = len(citations) + 1
            citations.append(Citation(number[p.id], p.article_id, p.title, p.id, p.text, p.start, p.end,
                                      round(s.hit.score, 6)))
        parts.append(f"{s.text} [{number[p.id]}]")
    return Answer(question=question, text=" ".join(parts), citations=tuple(citations), span=span, **fields)


def abstain(question: str, **fields) -> Answer:
    return Answer(question=question, text=NO_ANSWER, abstained=True, **fields)


def _bigrams(words: list[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:]))


_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundred|thousand|million|billion)\b", re.I)
_DATE = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b|\b(?:century|decade|year)\b")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")


def _holds_type(sentence: str, answer_type: str, question: str) -> bool:
    """A cheap test that a sentence holds something of the asked-for kind that the question lacks."""
    if answer_type in ("NUMBER", "AMOUNT"):
        return any(m.group(0).lower() not in question.lower() for m in _NUMBER.finditer(sentence))
    if answer_type == "DATE":
        return any(m.group(0) not in question for m in _DATE.finditer(sentence))
    if answer_type in ("PERSON", "ORG", "PLACE"):
        return any(m.group(0) not in question for m in _NAME.finditer(sentence))
    return False
