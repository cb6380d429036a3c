"""Where the prose is in an article's text: boilerplate lines (menus, footers), its sections, the date it states."""

from __future__ import annotations

import datetime
import re


class BadArticle(ValueError):
    """One file that cannot be an article; the reason is the message."""


def prose_sections(text: str, start: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each run of non-blank, non-boilerplate lines of `text` from `start` on.

    A boilerplate line ends a run: no passage may straddle it.
    """
    sections: list[tuple[int, int]] = []
    run: list[tuple[int, int]] = []
    for line_start, line_end in text_lines(text, start):
        line = text[line_start:line_end]
        if not line.strip():
            continue
        if is_boilerplate(line):
            if run:
                sections.append((run[0][0], run[-1][1]))
                run = []
            continue
        run.append((line_start, line_end))
    if run:
        sections.append((run[0][0], run[-1][1]))
    return sections


def text_lines(text: str, start: int = 0):
    """(start, end) of each line of `text` from `start` on, its "\\n" left out."""
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield start, len(text)
            return
        yield start, end
        start = end + 1


# A word that ends a sentence: lower-case letters or digits then one stop (not an ellipsis).
_SENTENCE_END = re.compile(r"[a-z0-9)\"”’][.!?](?![.\w])")
_WORD = re.compile(r"\S+")
_SEPARATORS = re.compile(r"\s[|•·»›]\s")


def is_boilerplate(line: str) -> bool:
    """Scraped-page furniture: long runs of capitalised labels with no sentences, or separator bars.

    Navigation menus, footers and breadcrumb trails have many words and no sentence punctuation;
    article prose has a sentence end every 15-40 words. Short lines (titles, datelines, captions)
    are never judged here.
    """
    words = _WORD.findall(line)
    if len(_SEPARATORS.findall(f" {line} ")) >= 3 and not _SENTENCE_END.search(line):
        return True
    if len(words) < 25:
        return False
    sentence_ends = len(_SENTENCE_END.findall(line))
    capitalised = sum(1 for w in words if w[0].isupper() or not w[0].isalpha())
    return sentence_ends * 60 < len(words) and capitalised >= 0.5 * len(words)


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_MONTH_NUMBER = {m.lower(): i for i, m in enumerate(_MONTHS.split("|"), start=1)}
_FULL_DATE = re.compile(rf"\b({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b")
_DAY_FIRST = re.compile(rf"\b(\d{{1,2}})\s+({_MONTHS})\s+(\d{{4}})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_DAY = re.compile(rf"\b({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*,?\s*\d{{4}})")


def find_date(text: str) -> tuple[str | None, str | None]:
    """The first date the text states, as written, and as ISO when it has a year.

    Full dates win over day-and-month ones anywhere in the text: a dateline beats a passing "April 23".
    """
    for pattern, order in ((_FULL_DATE, "mdy"), (_DAY_FIRST, "dmy"), (_ISO_DATE, "ymd")):
        match = pattern.search(text)
        if match:
            parts = dict(zip(order, match.groups()))
            month = parts["m"]
            month = _MONTH_NUMBER[month.lower()] if not month.isdigit() else int(month)
            try:
                iso = datetime.date(int(parts["y"]), month, int(parts["d"])).isoformat()
            except ValueError:  # "February 31, 2015" is stated, but is no date
                iso = None
            return match.group(0), iso
    match = _MONTH_DAY.search(text)
    if match:
        return match.group(0), None
    return None, None
