"""The Telegram bot's /filter command: the same Filters the HTTP API takes, set for a chat in words.

    /filter                              what is in force, and how to change it
    /filter from 2015-01-01 to 2015-12-31  articles published in that range (either end alone too)
    /filter articles 1 3                 the articles /sources numbers 1 and 3 (or their ids)
    /filter from 2015-01-01 articles 2   both
    /filter off                          every article again

Article numbers are read against the index as it is when the command is given and stored as ids, so a
later refresh that renumbers /sources does not move a chat's choice.
"""

from __future__ import annotations

import datetime

from retrieval.question.filters import Filters

MAX_ARTICLES = 100
USAGE = ("Limit my answers to some articles:\n"
         "/filter from 2015-01-01 to 2015-12-31 (published in that range; either end alone too)\n"
         "/filter articles 1 3 (the /sources numbers, or article ids)\n"
         "/filter off (every article again)")


class FilterError(ValueError):
    """What is wrong with a /filter command, in words for the person who typed it."""


def parse_filter(words: list[str], headings: list[tuple[str, str, str | None, str | None]]) -> Filters:
    """The Filters of a /filter command's words; `headings` are the index's articles as /sources lists them
    ([id, title, date, published], in id order). FilterError says what is wrong."""
    if [w.lower() for w in words] == ["off"]:
        return Filters()
    after = before = None
    chosen: list[str] | None = None
    k = 0
    while k < len(words):
        word = words[k].lower()
        if word in ("from", "after", "since") and k + 1 < len(words):
            after, k = _date(words[k + 1]), k + 2
        elif word in ("to", "until", "before") and k + 1 < len(words):
            before, k = _date(words[k + 1]), k + 2
        elif word in ("articles", "article") and k + 1 < len(words):
            chosen = [_article(w, headings) for w in words[k + 1:]]
            k = len(words)
        else:
            raise FilterError(f"I don't understand “{' '.join(words[k:])}”.\n\n{USAGE}")
    if after and before and after > before:
        raise FilterError(f"The dates are the wrong way round: {after} is after {before}.")
    if chosen is not None and len(set(chosen)) > MAX_ARTICLES:
        raise FilterError(f"Choose at most {MAX_ARTICLES} articles.")
    return Filters(None if chosen is None else frozenset(chosen), after, before)


def _date(word: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(word)
    except ValueError:
        raise FilterError(f"“{word}” is not a date: write it as 2015-07-22 (year-month-day).") from None


def _article(word: str, headings) -> str:
    if word.isdigit():
        n = int(word)
        if 1 <= n <= len(headings):
            return headings[n - 1][0]
        raise FilterError(f"There is no article {n}: /sources numbers them 1 to {len(headings)}.")
    if any(h[0] == word for h in headings):
        return word
    raise FilterError(f"I know no article “{word}”: /sources lists them (use their numbers).")


def describe(filters: Filters, headings) -> str:
    """What a chat's filter lets me read, with the chosen articles' titles."""
    if not filters.active:
        return "I answer from every article."
    parts = []
    if filters.published_after or filters.published_before:
        parts.append(f"articles published {_range(filters)}")
    if filters.article_ids is not None:
        titles = {i: t for i, t, _, _ in headings}
        parts.append("these articles: " + "; ".join(titles.get(i, f"{i} (no longer indexed)")
                                                     for i in sorted(filters.article_ids)))
    return "I answer only from " + ", and of those only ".join(parts) + ". /filter off lifts it."


def _range(filters: Filters) -> str:
    if filters.published_after and filters.published_before:
        return f"from {filters.published_after} to {filters.published_before}"
    if filters.published_after:
        return f"on or after {filters.published_after}"
    return f"on or before {filters.published_before}"
