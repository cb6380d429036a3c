"""The candidate sentences of the retrieved passages, scored against the question. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from retrieval.parameters import FITTED
from retrieval.question.query import Query
from retrieval.articles.sentences import sentences_with_terms
from retrieval.types import Hit, Passage

# Sentence-score weights: term coverage dominates (it chose better sentences than MiniLM cosine on
# XQuAD); bigrams reward the question's phrasing, the passage prior its retrieval rank, and the
# answer-type bonus a sentence that holds the kind of thing asked for (a number, a date, a name).
# Refit on the tuning parts by benchmarks/fit_sentences.py (issue 34): no setting of its grid read two
# questions' worth of span F1 more than these, so they stay.
W_BIGRAM, W_RANK, W_TYPE, W_LONG = (FITTED["sentences"][n] for n in ("W_BIGRAM", "W_RANK", "W_TYPE", "W_LONG"))
PRIOR_POWER = FITTED["sentences"]["PRIOR_POWER"]


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
    """A passage split afresh: for passages outside an index (a search index reads its stored split)."""
    return sentences_with_terms(passage.text)


def candidate_sentences(hits: list[Hit], passages: int = 3, split: Split = split_with_terms) -> list[Sentence]:
    """The sentences of the top passages; `split` may be a search index's cache of the same."""
    out = []
    for rank, hit in enumerate(hits[:passages]):
        p = hit.passage
        for s, e, sentence_terms in split(p):
            out.append(Sentence(hit, rank, p.start + s, p.start + e, p.text[s:e], terms=sentence_terms))
    return out


def score_sentences(sentences: list[Sentence], query: Query) -> list[Sentence]:
    """Each sentence with its score against the question, best first."""
    question_bigrams = _bigrams(query.terms)
    scored = []
    seen = set()
    top = max((s.hit.score for s in sentences), default=0.0)
    for s in sentences:
        if (s.hit.passage.article_id, s.start) in seen:  # the same sentence in two windows
            continue
        seen.add((s.hit.passage.article_id, s.start))
        present = set(s.terms)
        covered = query.coverage(present)
        bigrams = len(question_bigrams & _bigrams(s.terms)) / len(question_bigrams) if question_bigrams else 0.0
        typed = W_TYPE if query.kind and _holds_type(s.text, query.kind, query.text) else 0.0
        long = W_LONG * max(0, len(s.terms) - 30)
        # The passage prior follows the retrieval score, not the rank: near-ties stay near-ties.
        prior = W_RANK * (s.hit.score / top) ** PRIOR_POWER if top > 0 else W_RANK / (1 + s.rank)
        score = covered + W_BIGRAM * bigrams + prior + typed - long
        scored.append(Sentence(s.hit, s.rank, s.start, s.end, s.text, score, frozenset(present & query.wanted.keys()),
                               s.terms))
    return sorted(scored, key=lambda s: -s.score)


def _bigrams(words: Sequence[str]) -> set[tuple[str, str]]:
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
