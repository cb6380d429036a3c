"""Set answers made whole: every member the answer's article gives, from every sentence the reader answers in.

`complete` runs after the readings are chosen. For a question that asks for the members of a set ("Which
officials ...?", "Who attended ...?") it keeps the answer's one article and takes every sentence of it that the
reader read and found an answer in, its span's margin over the window's "no answer" at least LIST_MARGIN
logits; in each, the span stands for the coordination it is part of ("A, B and C", parsed by spaCy) and, when
it is an argument of a verb ("X met with Y"), for that verb's other arguments of the same kind that the
question does not name. A sentence that adds no member is not quoted. The answer's span is the members
joined; each member keeps its offsets in the article.

Which questions are set questions is decided three ways, each threshold fitted on the tuning parts
(benchmarks/fit_lists.py): the question's own words (retrieval.question.sets, at least P_SET); the article,
when a second sentence the reader answers in with that margin holds a coordination of its own (a list the
article gives is evidence of a set that "Who attended ...?" does not word); or the answer's own sentence,
when the reader's span stands in a coordination and the words make a set at least P_COORDINATED likely.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.answer import coordination
from retrieval.answer.candidates import Sentence
from retrieval.answer.roles import who_is
from retrieval.answer.spans import Reading
from retrieval.parameters import FITTED
from retrieval.question.query import Query
from retrieval.question.sets import set_probability
from retrieval.types import Member

P_SET = FITTED["lists"]["P_SET"]
LIST_MARGIN = FITTED["lists"]["LIST_MARGIN"]
CO_ARGUMENTS = FITTED["lists"]["CO_ARGUMENTS"]
P_COORDINATED = FITTED["lists"]["P_COORDINATED"]
# Only questions asking for things a span can list: a "why" or "how" question is never a set.
_KINDS = (None, "PERSON", "ORG", "PLACE")


@dataclass(frozen=True, slots=True)
class Listed:
    """A set answer: the sentences to quote, in the article's order, the joined span and its members."""

    sentences: list[Sentence]
    span: str
    members: tuple[Member, ...]


def complete_answer(query: Query, scored: list[Sentence], readings: list[Reading],
                    chosen: list[Reading]) -> Listed | None:
    """The answer made whole, or None to keep the chosen one: "Who is X?" gets X's role where a sentence gives
    it (retrieval.answer.roles), a set question every member."""
    role = who_is(query.text, scored, readings)
    if role is not None:
        sentence, start, end = role
        return Listed([sentence], sentence.text[start - sentence.start:end - sentence.start], ())
    return complete(query, readings, chosen)


def complete(query: Query, readings: list[Reading], chosen: list[Reading], p_set: float = P_SET,
             margin: float = LIST_MARGIN, co_arguments: bool = CO_ARGUMENTS,
             p_coordinated: float = P_COORDINATED) -> Listed | None:
    """The whole set when `query` asks for one and the article gives two or more members; None keeps the
    answer as chosen (one span)."""
    if not chosen or query.kind not in _KINDS or _opens_with(query.text, ("why", "how", "when")):
        return None
    first = chosen[0]
    article = first.sentence.hit.passage.article_id
    mine = [r for r in readings if r is first or (r.sentence.hit.passage.article_id == article
                                                   and r.span_score - r.null_score >= margin)]
    found = [(r, _members(r, query, co_arguments)) for r in sorted(mine, key=lambda r: r.sentence.start)]
    p = set_probability(query.text)
    worded = p >= p_set
    listed_elsewhere = any(len(m) >= 2 for r, m in found if r is not first)
    listed_here = p >= p_coordinated and any(len(m) >= 2 for r, m in found if r is first)
    if not (worded or listed_elsewhere or listed_here):
        return None
    sentences, members, seen = [], [], set()
    for reading, ranges in found:
        new = []
        for start, end in ranges:
            text = reading.sentence.text[start - reading.sentence.start:end - reading.sentence.start]
            key = " ".join(text.lower().split())
            if key not in seen:
                seen.add(key)
                new.append(Member(text, article, start, end))
        if new or reading is first:
            sentences.append(reading.sentence)
            members.extend(new)
    if len(members) < 2:
        return None
    return Listed(sentences, join([m.text for m in members]), tuple(members))


def join(items: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    items = [" ".join(i.split()) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _opens_with(text: str, words: tuple[str, ...]) -> bool:
    return text.lower().split()[:1] in ([w] for w in words)


def _members(reading: Reading, query: Query, co_arguments: bool) -> list[tuple[int, int]]:
    """The members the reading's span stands for, as offsets in the article."""
    s = reading.sentence
    doc = coordination.parse(s.text)
    ranges = coordination.members(doc, reading.start - s.start, reading.end - s.start)
    if co_arguments:
        named = {n.lower() for n in query.names}
        root = coordination.root_of(doc, reading.start - s.start, reading.end - s.start)
        for other in coordination.co_arguments(root) if root is not None else ():
            for start, end in coordination.members(doc, other.idx, other.idx + len(other.text)):
                if doc.text[start:end].lower() not in named and not any(a < end and start < b for a, b in ranges):
                    ranges.append((start, end))
    return [(s.start + a, s.start + b) for a, b in sorted(ranges)]
