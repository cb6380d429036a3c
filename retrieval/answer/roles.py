""""Who is X?" answered with X's role where an article gives one: "X, Deputy Director General of Y", "Y's Director X".

The reader, trained on SQuAD, often answers such a question with a fragment of a sentence that mentions X;
the role is in the parse: the apposition after X's name, or the title words before it (spaCy,
retrieval.answer.coordination.role). The sentence that gives it is quoted; the reader's own span stands when
it already is the role.
"""

from __future__ import annotations

import re

from retrieval.answer import coordination
from retrieval.answer.candidates import Sentence
from retrieval.answer.spans import Reading

_WHO_IS = re.compile(r"^\s*(?i:who|what)\s+(?i:is|was)\s+(?P<name>(?:[A-Z][\w'’.-]*\s*){1,4}?)\s*\??\s*$")


def asked_name(question: str) -> str | None:
    """X of "Who is X?" / "Who was X?" when X is a name (every word capitalised); None for any other question."""
    m = _WHO_IS.match(question)
    return m.group("name").strip() if m else None


def who_is(question: str, scored: list[Sentence], readings: list[Reading]) -> tuple[Sentence, int, int] | None:
    """(the sentence that gives the asked person's role, the role's offsets in the article); None when the
    question is no "Who is X?", no sentence gives a role, or the reader's best span already is it."""
    name = asked_name(question)
    if name is None:
        return None
    forms = [name] + ([" ".join(reversed(name.split()))] if len(name.split()) == 2 else [])
    best = readings[0] if readings else None
    seen, order = set(), [r.sentence for r in readings] + list(scored)
    for sentence in order:
        key = (sentence.hit.passage.article_id, sentence.start)
        if key in seen:
            continue
        seen.add(key)
        at = next(((m.start(), m.end()) for f in forms for m in [re.search(rf"\b{re.escape(f)}\b", sentence.text)] if m),
                  None)
        if at is None:
            continue
        found = coordination.role(coordination.parse(sentence.text), *at)
        if found is None:
            continue
        start, end = sentence.start + found[0], sentence.start + found[1]
        if best is not None and best.sentence.start == sentence.start and best.start < end and start < best.end \
                and best.sentence.hit.passage.article_id == sentence.hit.passage.article_id:
            return None  # the reader's span is (part of) the role already
        return sentence, start, end
    return None
