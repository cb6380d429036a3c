"""A question parsed once: everything search, sentence scoring, the reader and the checks read of it.

`parse` cleans the question, corrects misspelt names towards the corpus, decides whether it follows
up an earlier turn, and tokenises, weighs and types it. Nothing after it tokenises the question again,
and nothing at question time tokenises a passage: their terms were stored by the build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Collection, Mapping, Protocol, Sequence

from retrieval.question.followups import resolve
from retrieval.question.wording import answer_type, clean_question, is_yes_no, own_entities
from retrieval.parameters import FITTED
from retrieval.question.spelling import Speller
from retrieval.terms import terms, tokens
from retrieval.types import Turn

# A follow-up's carried-over words count this much of their weight: they find the right article, but
# the sentence that answers is the one with the new question's own words.
# On the CoQA tuning follow-ups (benchmarks/fit_sentences.py) 0.0 and 0.1 read 1.6 and 1.0 questions'
# worth of span F1 more of 99, within noise (0.0 with fewer answers in the first sentence): 0.2 stays.
CONTEXT_SHARE = FITTED["query"]["CONTEXT_SHARE"]
# How the reader reads a follow-up: its question as asked, or with the carried-over words before or after it.
# Fitted on the tuning parts (benchmarks/fit_answer.py): the SQuAD-trained reader reads a question with other
# words before it worse than the bare question, whose sentence the context has already helped choose.
FOLLOWUP_FORMS = ("asked", "context first", "context last")
FOLLOWUP_READ = FITTED["reading"]["FOLLOWUP_READ"]


class Weights(Protocol):
    """How much a term tells (retrieval.index.bm25.SparseIndex: its IDF in the corpus)."""

    def weight(self, term: str) -> float: ...


@dataclass(frozen=True, slots=True)
class Query:
    asked: str  # the question as asked (cleaned): what the answer repeats
    text: str  # as the corpus spells it: what everything else reads
    terms: tuple[str, ...]  # text's search terms, in order
    wanted: Mapping[str, float]  # each term the answer should hold, by weight (context terms count less)
    search_terms: tuple[str, ...]  # the terms searched: the text's and the context's
    search_wanted: Mapping[str, float]  # each searched term at its full weight
    kind: str | None = None  # the answer type: PERSON, DATE, ... (retrieval.question.wording)
    names: tuple[str, ...] = ()  # the names and numbers the question names itself
    name_forms: tuple[tuple[str, ...], ...] = ()  # per name, a pattern for each of its words (see _form)
    name_terms: tuple[str, ...] = ()  # the search terms of its names without digits
    context: str = ""  # the earlier turns' words a follow-up carries
    followup: bool = False
    yes_no: bool = False  # a polar question: answered yes or no with the sentence that decides it
    prefer: tuple[str, ...] = ()  # articles the conversation has been citing
    article_ids: frozenset[str] | None = None  # only these articles, when given
    total: float = field(init=False)  # the sum of `wanted`: derived here, read by every coverage

    def __post_init__(self):
        object.__setattr__(self, "total", sum(self.wanted.values()))

    @property
    def search_query(self) -> str:
        """What is embedded and searched: the question with a follow-up's context."""
        return f"{self.text} {self.context}".strip()

    @property
    def reader_question(self) -> str:
        """What the reader reads as the question: a follow-up in the fitted form (FOLLOWUP_READ)."""
        return self.reader_question_as(FOLLOWUP_READ)

    def reader_question_as(self, form: str) -> str:
        """The question for the reader with a follow-up's context placed by `form` (one of FOLLOWUP_FORMS):
        "asked" as asked, "context first" after the words it points back to ("State Intellectual Property
        Office What is the WIPO Office in China When did it open?"), "context last" before them."""
        if not self.followup or form == "asked":
            return self.text
        if form == "context first":
            return f"{self.context} {self.text}"
        if form == "context last":
            return f"{self.text} {self.context}"
        raise ValueError(f"unknown follow-up form {form!r}: one of {', '.join(FOLLOWUP_FORMS)}")

    def coverage(self, held: Collection[str]) -> float:
        """The weighted share of the wanted terms that `held` (a sentence's or passage's terms) holds."""
        return coverage(self.wanted, held, self.total)

    def resolved_coverage(self, held: Collection[str]) -> float:
        """The same share of the resolved question's terms: a follow-up's carried-over words at their full weight
        ("How many times?" after a turn about Kerry backpedalling). A first turn's is its `coverage`."""
        return coverage(self.search_wanted, held, sum(self.search_wanted.values()))


def coverage(wanted: dict[str, float], held: Collection[str], total: float) -> float:
    """The weighted share of `wanted` (term -> weight, summing to `total`) that `held` holds.

    The one definition of coverage; retrieval.index.sentence_table computes the same for many passages at once.
    """
    if not total:
        return 0.0
    return sum(w for t, w in wanted.items() if t in held) / total


def _form(word: str) -> str:
    """A question's word as the checks look for it in a passage's normalised text: a pattern of its tokens
    (possessive dropped, lower-cased, accents folded) with anything but letters and digits between them,
    as the text may write "Al-Muwaffaq" or "Al Muwaffaq"; "" for a word without tokens."""
    return r"[\W_]+".join(map(re.escape, tokens(re.sub(r"['’]s$", "", word))))


def parse(question: object, sparse: Weights, speller: Speller | None = None, history: Sequence[Turn] = (),
          article_ids: Collection[str] | None = None) -> Query:
    """The Query of a question in a conversation; BadQuestion when it is unusable."""
    asked = clean_question(question)
    # Misspelt names are put right before anything else: search, scoring and checks all read the
    # question as the corpus spells it.
    text = speller.correct(asked) if speller is not None else asked
    resolved = resolve(text, history)
    own, context = terms(text), terms(resolved.context)
    wanted = {t: sparse.weight(t) for t in own}
    for t in context:
        wanted.setdefault(t, CONTEXT_SHARE * sparse.weight(t))
    searched = tuple(own + context)
    names = tuple(own_entities(text))
    return Query(
        asked=asked, text=text, terms=tuple(own), wanted=wanted, search_terms=searched,
        search_wanted={t: sparse.weight(t) for t in set(searched)}, kind=answer_type(text), names=names,
        name_forms=tuple(tuple(f for f in map(_form, n.split()) if f) for n in names),
        name_terms=tuple(t for n in names if not any(c.isdigit() for c in n) for t in terms(n)),
        context=resolved.context, followup=resolved.followup, yes_no=is_yes_no(text), prefer=resolved.prefer,
        article_ids=None if article_ids is None else frozenset(article_ids),
    )
