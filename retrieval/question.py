"""What a question is: checked text, and the kind of answer it asks for."""

from __future__ import annotations

import re
import unicodedata

from retrieval.errors import BadQuestion

MAX_QUESTION_CHARS = 1000


def clean_question(question: object) -> str:
    """The question as text, control characters turned to spaces; BadQuestion when unusable."""
    if not isinstance(question, str):
        raise BadQuestion("a question must be text")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") and c not in "\u200d" else c for c in question)
    text = " ".join(text.split())
    if not text:
        raise BadQuestion("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    return text


_TYPES = [
    # order matters: "how much money" is an amount before it is a number
    ("AMOUNT", r"\bhow much (?:money|did .* cost|does .* cost|was .* worth)|\bwhat (?:was |is )?the (?:cost|price|budget|amount)\b"),
    ("NUMBER", r"\bhow (?:many|much|long|old|far|large|big|tall|high)\b|\bwhat (?:number|percentage|proportion|share|size)\b|\bwhat (?:was|is) the (?:number|total|population|percentage|score)\b"),
    ("DATE", r"\bwhen\b|\bwhat (?:year|date|day|month|time|century|decade|period)\b|\b(?:which|in what) (?:year|date|day|month|century|decade)\b"),
    ("PLACE", r"\bwhere\b|\b(?:which|what) (?:country|city|place|region|province|state|town|location|continent|area)\b"),
    ("ORG", r"\b(?:which|what) (?:organi[sz]ation|company|companies|agency|office|institution|university|team|firm|body|department|government|group|party|ministry)s?\b"),
    ("PERSON", r"\bwho(?:m|se)?\b|\b(?:which|what) (?:person|people|official|officials|man|woman|mayor|director|president|leader|player|king|queen|scientist)s?\b"),
]
_COMPILED = [(kind, re.compile(pattern, re.I)) for kind, pattern in _TYPES]


def answer_type(question: str) -> str | None:
    """PERSON, ORG, PLACE, DATE, NUMBER or AMOUNT when the question asks for one; None otherwise."""
    for kind, pattern in _COMPILED:
        if pattern.search(question):
            return kind
    return None
