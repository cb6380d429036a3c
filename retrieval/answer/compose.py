"""An answer made of chosen sentences, each followed by the number of the passage it cites; or none. Pure."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from retrieval.types import Answer, Citation, SentenceRange

if TYPE_CHECKING:
    from retrieval.answer.candidates import Sentence

NO_ANSWER = "The articles don't say."
# A conversation's first question with no words of its own ("When?", "Who?") leans on nothing yet.
WHAT_ABOUT = ("What is it about? That question leans on something said before, and nothing has been yet: "
              "ask it with who or what you mean.")


def compose(question: str, chosen: list[Sentence], span: str | None = None, lead: str = "", **fields) -> Answer:
    """The answer text: `lead` when given ("Yes."), then each chosen sentence followed by the number of the
    passage it comes from; each citation lists the offsets of exactly the sentences quoted from it."""
    number: dict[str, int] = {}
    quoted: dict[str, list[Sentence]] = {}
    parts = [lead] if lead else []
    for s in chosen:
        p = s.hit.passage
        number.setdefault(p.id, len(number) + 1)
        quoted.setdefault(p.id, []).append(s)
        parts.append(f"{shown(s.text)} [{number[p.id]}]")
    citations = []
    for passage_id, sentences in quoted.items():
        p, score = sentences[0].hit.passage, sentences[0].hit.score
        citations.append(Citation(number[passage_id], p.article_id, p.title, p.id, p.text, p.start, p.end,
                                  round(score, 6), tuple(SentenceRange(s.start, s.end) for s in sentences)))
    return Answer(question=question, text=" ".join(parts), citations=tuple(citations), span=span, **fields)


def shown(text: str) -> str:
    """A sentence as the answer shows it: control characters (a line break inside a sentence, a stray
    escape code) as spaces, runs of white space as one. Its citation's offsets still give the exact text."""
    return " ".join(_CONTROL.sub(" ", text).split())


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def abstain(question: str, **fields) -> Answer:
    return Answer(question=question, text=NO_ANSWER, abstained=True, **fields)


def ask_what_about(question: str, **fields) -> Answer:
    """The reply to a question that leans on an earlier turn that does not exist: a plain request for
    what it is about, never a span found for words that say nothing."""
    details = {**fields.pop("details", {}), "needs_context": True}
    return Answer(question=question, text=WHAT_ABOUT, abstained=True, details=details, **fields)
