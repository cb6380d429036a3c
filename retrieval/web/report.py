"""What a collect run did, per feed, for a person to read: entries seen, new, fetched, failed (why), duplicates."""

from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.web.feeds import BadLine


@dataclass(frozen=True, slots=True)
class Failure:
    url: str
    reason: str
    transient: bool = False  # tried again on a later run


@dataclass(frozen=True, slots=True)
class Duplicate:
    url: str
    of: str  # the article id it copies
    similarity: float = 1.0  # MinHash containment; 1.0 for the same URL listed by another feed


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of a feed, for a progress display; `done` of `total` pages of this feed so far."""

    feed: str
    stage: str  # "feed": reading the feed; "page": fetching `url`; "done": the feed is finished
    done: int = 0
    total: int = 0
    url: str | None = None


@dataclass(frozen=True, slots=True)
class FeedReport:
    feed: str
    line: int = 0  # in feeds.txt
    seen: int = 0  # entries the feed lists now
    new: int = 0  # entries never seen before
    retried: int = 0  # earlier failures tried again
    fetched: int = 0  # pages that answered with a body
    written: tuple[str, ...] = ()  # article ids written to the folder
    failed: tuple[Failure, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    error: str | None = None  # the feed itself could not be read: why (its URL included)
    not_modified: bool = False  # the server said the feed had not changed (ETag / Last-Modified)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.error:
            return f"{self.feed}: failed: {self.error}"
        state = "not modified, " if self.not_modified else ""
        return (f"{self.feed}: {state}{self.seen} entries, {self.new} new, {self.fetched} fetched, "
                f"{len(self.written)} written, {len(self.failed)} failed, {len(self.duplicates)} duplicates "
                f"({self.seconds:.1f} s)")


@dataclass(frozen=True, slots=True)
class CollectReport:
    feeds: tuple[FeedReport, ...] = ()
    bad_lines: tuple[BadLine, ...] = ()
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())  # run-wide trouble, such as an unreadable ledger set aside

    @property
    def written(self) -> tuple[str, ...]:
        return tuple(a for f in self.feeds for a in f.written)

    @property
    def failed_feeds(self) -> tuple[FeedReport, ...]:
        return tuple(f for f in self.feeds if not f.ok)

    def lines(self) -> list[str]:
        """The report as a person reads it: a line a feed, then each failure and duplicate, indented."""
        out = [str(b) for b in self.bad_lines] + list(self.notes)
        for report in self.feeds:
            out.append(report.summary())
            out += [f"  failed {f.url}: {f.reason}" + (" (tried again next run)" if f.transient else "")
                    for f in report.failed]
            out += [f"  duplicate {d.url}: a copy of {d.of} ({d.similarity:.2f})" for d in report.duplicates]
        return out
