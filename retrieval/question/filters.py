"""Which articles a question may draw on: chosen articles, a range of publication dates, or both.

The same filters reach `ask` from every front-end: the HTTP API's request fields and the Telegram
bot's /filter command both make a Filters, and `converse` turns it into article ids for the version
being asked.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass



@dataclass(frozen=True, slots=True)
class Filters:
    article_ids: frozenset[str] | None = None  # None: every article
    published_after: datetime.date | None = None  # on or after
    published_before: datetime.date | None = None  # on or before

    @property
    def active(self) -> bool:
        return self.article_ids is not None or bool(self.published_after or self.published_before)

    def allowed(self, version) -> set[str] | None:
        """The ids of the articles of `version` (a stores.Snapshot) these filters allow; None for all.

        An article without a stated year has no publication date: a date range leaves it out; an empty
        range (after later than before) allows nothing.
        """
        allowed = set(self.article_ids) if self.article_ids is not None else None
        if self.published_after or self.published_before:
            after = self.published_after.isoformat() if self.published_after else ""
            before = self.published_before.isoformat() if self.published_before else "9999-12-31"
            dated = version.published_between(after, before)
            allowed = dated if allowed is None else allowed & dated
        return allowed
