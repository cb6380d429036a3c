"""Follow-up questions without a language model: decide whether a question leans on earlier turns,
and if so carry their context into the search."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from retrieval.question.wording import own_entities
from retrieval.terms import terms, tokens
from retrieval.types import Turn

# Words that point back at something said before.
_ANAPHORA = {"he", "she", "it", "they", "him", "her", "them", "his", "its", "their", "hers", "theirs",
             "this", "that", "these", "those", "there", "then", "such", "former", "latter", "same"}
_CONTINUATIONS = re.compile(r"^\s*(?:and|also|what about|how about|and what|so|why|how come|else)\b", re.I)
CONTEXT_WORDS = 40  # a chain of follow-ups carries at most this many words of context


@dataclass(frozen=True, slots=True)
class Resolved:
    question: str
    context: str = ""  # earlier turns' words, searched with the question and counted half in answers
    prefer: tuple[str, ...] = ()  # articles the conversation has been citing
    followup: bool = False

    @property
    def search_query(self) -> str:
        return f"{self.question} {self.context}".strip()


def is_followup(question: str, history: Sequence[Turn]) -> bool:
    if not history:
        return False
    words = tokens(question)
    if any(w in _ANAPHORA for w in words) or _CONTINUATIONS.match(question):
        return True
    # "Between whom?", "Which vice mayors?": too little of its own to stand alone.
    return len(terms(question)) <= 2 and not own_entities(question)


def resolve(question: str, history: Sequence[Turn]) -> Resolved:
    """The question with the context of the last turn when it is a follow-up; otherwise as asked."""
    if not is_followup(question, history):
        return Resolved(question)
    last = history[-1]
    context_words = " ".join(filter(None, (last.span, last.search_query or last.question))).split()
    context = " ".join(context_words[:CONTEXT_WORDS]).replace("?", "")
    return Resolved(question, context=context, prefer=last.article_ids[:1], followup=True)
