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
    ("NUMBER", r"\bhow (?:many|much|long|old|far|large|big|tall|high)\b|\bwhat (?:number|percentage|proportion|share|size)\b|\bwhat (?:was|is) the (?:final )?(?:number|total|population|percentage|score)\b"),
    ("DATE", r"\bwhen\b|\bwhat (?:year|date|day|month|time|century|decade|period)\b|\b(?:which|in what) (?:year|date|day|month|century|decade)\b"),
    ("PLACE", r"\bwhere\b|\b(?:which|what) (?:country|city|place|region|province|state|town|location|continent|area)\b"),
    ("ORG", r"\b(?:which|what) (?:organi[sz]ation|company|companies|agency|office|institution|university|team|firm|body|department|government|group|party|ministry)s?\b"),
    ("PERSON", r"\bwho(?:m|se)?\b|\b(?:which|what) (?:\w+ )?(?:person|people|official|man|woman|men|women|mayor|director|president|leader|player|king|queen|emperor|scientist|actor|actress|singer|artist|author|writer|poet|composer|painter|quarterback|coach|minister|officer|general|inventor|philosopher|physicist|chemist|mathematician|explorer)s?\b|\bname of the (?:\w+ )?(?:person|man|woman|player|leader|king|queen|emperor|actor|actress|author|quarterback|scientist)\b"),
]
_COMPILED = [(kind, re.compile(pattern, re.I)) for kind, pattern in _TYPES]


_NAMED_WH = re.compile(r"(?<=[A-Z]\w)(\w*\s+)(Who|What|When|Where)\b")


def answer_type(question: str) -> str | None:
    """PERSON, ORG, PLACE, DATE, NUMBER or AMOUNT when the question asks for one; None otherwise.

    Only the question's own wh-word counts: "Doctor Who" inside a name asks for nothing.
    """
    question = _NAMED_WH.sub(lambda m: m.group(1) + "_" * len(m.group(2)), question)
    first_wh = re.search(r"\b(who|whom|whose|what|which|when|where|how)\b", question, re.I)
    for kind, pattern in _COMPILED:
        match = pattern.search(question)
        # A later, subordinate wh-word ("What did the man who ...") does not set the type.
        if match and (first_wh is None or match.start() <= first_wh.start() + 1 or kind != "PERSON"):
            return kind
    return None


_QUESTION_OPENERS = {"who", "whom", "whose", "what", "when", "where", "which", "why", "how", "did", "does", "do",
                     "is", "are", "was", "were", "can", "could", "will", "would", "in", "on", "at", "and", "between"}


def own_entities(question: str) -> list[str]:
    """The names and numbers a question names itself: runs of capitalised words ("Graham Twigg",
    not its first word) and words with digits."""
    words = re.findall(r"[\w’'.-]+", question)
    found, name = [], []
    for k, w in enumerate(words):
        if k > 0 and w[:1].isupper() and w.lower() not in _QUESTION_OPENERS:
            name.append(w)
            continue
        if name:
            found.append(" ".join(name))
            name = []
        if any(c.isdigit() for c in w):
            found.append(w)
    return found + ([" ".join(name)] if name else [])


# A polar question opens with an auxiliary or modal verb ("Did he resign?", "And was it in Beijing?", "Isn't it
# open?"); one that offers choices ("Was it in May or June?") asks for one of them, a span. On the CoQA CNN
# tuning part this form finds 37 of the 39 yes/no turns and takes one other turn for one.
_AUXILIARY = ("is are was were am do does did has have had can could will would should may might must shall "
              "isn't aren't wasn't weren't don't doesn't didn't hasn't haven't hadn't can't couldn't won't "
              "wouldn't shouldn't").split()
_POLAR = re.compile(r"^\W*(?:(?:and|so|but|well|ok|okay|then|also)\b\W*)?(?:%s)(?=\W)(?!.*\bor\b)"
                    % "|".join(map(re.escape, _AUXILIARY)), re.I)


def is_yes_no(question: str) -> bool:
    """Whether the question asks for a yes or a no."""
    return bool(_POLAR.match(question.replace("’", "'")))
