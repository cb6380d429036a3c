"""Read every feed of a corpus folder and keep each new entry's page as an article file beside the others."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from retrieval.web.article_file import Source, article_name, normalize_url, read_source, render, write_atomically
from retrieval.web.duplicates import THRESHOLD, NearDuplicates
from retrieval.web.errors import FetchTimeout, NoArticleText, WebError
from retrieval.web.feeds import FEEDS_FILE, Entry, FeedLine, parse_feed, read_feed_list
from retrieval.web.fetch import (DEFAULT_CONTACT, FEED_ACCEPT, MAX_BYTES, PAGE_TYPES, Fetcher, check_url,
                                 is_private_host)
from retrieval.web.ledger import DUPLICATE, FAILED, WRITTEN, Ledger
from retrieval.web.pages import extract_page
from retrieval.web.report import CollectReport, Duplicate, Failure, FeedReport, Progress

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt", ".md")  # the files the folder reader reads: each may be what a new page copies


def collect(folder: str | Path, *, contact: str = DEFAULT_CONTACT, fetcher: Fetcher | None = None,
            feed_timeout: float = 120.0, request_timeout: float = 15.0, max_bytes: int = MAX_BYTES,
            max_concurrent: int = 3, max_attempts: int = 3, pause: float = 0.5, threshold: float = THRESHOLD,
            progress: Callable[[Progress], None] | None = None) -> CollectReport:
    """For each feed of `folder/feeds.txt`, fetch the pages of entries not seen before and write them as articles.

    One feed failing never stops the others, and nothing is ever deleted or overwritten: a file of the
    same name (a person may have edited it) is kept as it is. `pause` is the wait between two pages of
    one feed (politeness to its site). `progress` is called from worker threads, one call at a time.
    A `fetcher` passed in is used and left open; otherwise one is made from the limits and closed.
    """
    started = time.monotonic()
    root = Path(folder)
    lines, bad = read_feed_list(root)
    if not lines:
        return CollectReport(bad_lines=tuple(bad), seconds=time.monotonic() - started)
    ledger = Ledger.load(root)
    own = fetcher is None
    if fetcher is None:
        fetcher = Fetcher(contact, timeout=request_timeout, max_bytes=max_bytes, max_concurrent=max_concurrent)
    fetcher.validators.update({url: v for url, v in ledger.validators().items() if url not in fetcher.validators})
    run = _Run(root, ledger, fetcher, feed_timeout, max_attempts, pause, threshold, progress)
    try:
        with ThreadPoolExecutor(max_workers=min(max_concurrent, len(lines)), thread_name_prefix="feed") as pool:
            reports = tuple(pool.map(run.feed, lines))
    finally:
        if own:
            fetcher.close()
    notes = (ledger.note,) if ledger.note else ()
    return CollectReport(reports, tuple(bad), time.monotonic() - started, notes)


@dataclass
class _Tally:
    """A feed's report while it is being made."""

    seen: int = 0
    new: int = 0
    retried: int = 0
    fetched: int = 0
    written: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)


class _Run:
    def __init__(self, root: Path, ledger: Ledger, fetcher: Fetcher, feed_timeout: float, max_attempts: int,
                 pause: float, threshold: float, progress: Callable[[Progress], None] | None):
        self.root, self.ledger, self.fetcher = root, ledger, fetcher
        self.feed_timeout, self.max_attempts, self.pause = feed_timeout, max_attempts, pause
        self.threshold, self._progress = threshold, progress
        self.lock = threading.Lock()  # the ledger, the folder and the duplicate index
        self._progress_lock = threading.Lock()
        self._copies: NearDuplicates | None = None
        self._claimed: set[str] = set()  # links a feed of this run has taken: fetched once, whoever lists them

    def feed(self, line: FeedLine) -> FeedReport:
        """One feed's run; whatever goes wrong in it is its report's error, never the other feeds' trouble."""
        started = time.monotonic()
        try:
            return self._feed(line, started)
        except Exception as err:  # a full disk, a bug: reported with the feed's URL, the other feeds go on
            if isinstance(err, WebError):  # gone, hanging, not a feed: the report says it; no traceback to read
                log.warning("feed %s", err)
            else:
                log.exception("feed %s failed", line.url)
            error = err if isinstance(err, WebError) else f"{line.url}: {type(err).__name__}: {err}"
            with self.lock:
                self.ledger.checked(line.url, None, str(error))
                self._save()
            self.tell(Progress(line.url, "done"))
            return FeedReport(line.url, line.line, error=str(error), seconds=time.monotonic() - started)

    def _feed(self, line: FeedLine, started: float) -> FeedReport:
        deadline = started + self.feed_timeout
        tally = _Tally()
        self.tell(Progress(line.url, "feed"))
        fetched = self.fetcher.get(line.url, accept=FEED_ACCEPT, conditional=True, deadline=deadline)
        entries = [] if fetched.not_modified else parse_feed(fetched.content, fetched.final_url, fetched.content_type)
        tally.seen = len(entries)
        todo = self.plan(line.url, entries, tally)
        private = is_private_host(check_url(line.url).host)
        for n, entry in enumerate(todo):
            self.tell(Progress(line.url, "page", n, len(todo), entry.link))
            if time.monotonic() >= deadline:
                late = FetchTimeout(entry.link, f"the feed's time limit ({self.feed_timeout:g} s) came before this page")
                self.failed(line.url, entry, late, tally)
                continue
            if n:
                time.sleep(min(self.pause, max(0.0, deadline - time.monotonic())))
            self.page(line.url, entry, deadline, private, tally)
        with self.lock:
            self.ledger.checked(line.url, self.fetcher.validators.get(line.url), None)
            self._save()
        self.tell(Progress(line.url, "done", len(todo), len(todo)))
        return FeedReport(line.url, line.line, tally.seen, tally.new, tally.retried, tally.fetched,
                          tuple(tally.written), tuple(tally.failed), tuple(tally.duplicates), None,
                          fetched.not_modified, time.monotonic() - started)

    def plan(self, feed: str, entries: list[Entry], tally: _Tally) -> list[Entry]:
        """The entries to fetch: never seen, or failed for a reason that may pass; claimed for this feed.

        A new link is recorded at once as not fetched yet (a failure that may pass): another feed of
        this run listing it then counts it as a duplicate, and a run that dies leaves it to be retried.
        """
        todo: list[Entry] = []
        with self.lock:
            for entry in entries:
                link = normalize_url(entry.link)
                known = self.ledger.entries.get(link)
                if known is None:
                    tally.new += 1
                    self.ledger.record(link, feed, FAILED, reason="not fetched yet", transient=True, attempts=0,
                                       title=entry.title, published=entry.published)
                elif feed in known["feeds"]:
                    continue  # seen before (or listed twice): written, a duplicate, or a failure retried below
                else:
                    # Another feed gave the same page: one article, with this feed as one more source.
                    self.ledger.record(link, feed, known["status"])
                    if link in self._claimed or known["status"] != FAILED:
                        of = known.get("article") or known.get("duplicate_of") or article_name(link)
                        tally.duplicates.append(Duplicate(entry.link, of))
                        continue
                self._claimed.add(link)
                todo.append(entry)
            for link in self.ledger.retryable(feed, self.max_attempts):
                if link not in self._claimed:
                    known = self.ledger.entries[link]
                    self._claimed.add(link)
                    tally.retried += 1
                    todo.append(Entry(link, known.get("title"), known.get("published")))
        return todo

    def page(self, feed: str, entry: Entry, deadline: float, private: bool, tally: _Tally) -> None:
        try:
            # A public feed may not send us to loopback or private addresses; a local feed may.
            fetched = self.fetcher.get(entry.link, types=PAGE_TYPES, deadline=deadline, allow_private=private)
            tally.fetched += 1
            page = extract_page(fetched.content, url=fetched.final_url, content_type=fetched.content_type)
        except WebError as err:
            self.failed(feed, entry, err, tally)
            return
        except Exception as err:  # lxml or trafilatura on a page they cannot take: this page's failure only
            log.exception("extracting %s failed", entry.link)
            self.failed(feed, entry, NoArticleText(entry.link, f"extraction failed ({type(err).__name__}: {err})"),
                        tally)
            return
        link = normalize_url(entry.link)
        name = article_name(entry.link)
        with self.lock:
            copy = self.copies().find(page.text)
            attempts = self.ledger.entries.get(link, {}).get("attempts", 0) + 1
            if copy is not None and copy[0] != name:  # its own file (a ledger lost since) is no copy
                self.ledger.record(link, feed, DUPLICATE, duplicate_of=copy[0], similarity=round(copy[1], 3),
                                   url=page.url, title=page.title, attempts=attempts)
                tally.duplicates.append(Duplicate(entry.link, copy[0], copy[1]))
                log.info("%s is a copy of %s (%.2f)", entry.link, copy[0], copy[1])
                return
            url = page.url if page.url and page.url.startswith(("http://", "https://")) else fetched.final_url
            source = Source(url, page.published or entry.published, page.author, page.site, feed)
            path = self.root / f"{name}.txt"
            if path.exists():
                log.info("%s already exists: kept as it is", path.name)
            else:
                try:
                    write_atomically(path, render(page.title or entry.title or name, source, page.text))
                except OSError as err:  # a full disk passes; the entry is tried again next run
                    failure = WebError(entry.link, f"could not write {path.name} ({err.strerror or err})")
                    failure.transient = True
                    self._failed_locked(feed, entry, failure, tally)
                    return
            if copy is None:
                self.copies().add(name, page.text)
            self.ledger.record(link, feed, WRITTEN, article=name, url=url, title=page.title,
                               published=source.published, attempts=attempts)
            tally.written.append(name)

    def failed(self, feed: str, entry: Entry, err: WebError, tally: _Tally) -> None:
        with self.lock:
            self._failed_locked(feed, entry, err, tally)

    def _failed_locked(self, feed: str, entry: Entry, err: WebError, tally: _Tally) -> None:
        log.warning("page %s", err)
        link = normalize_url(entry.link)
        attempts = self.ledger.entries.get(link, {}).get("attempts", 0) + 1
        self.ledger.record(link, feed, FAILED, reason=err.reason, transient=err.transient, attempts=attempts,
                           title=entry.title, published=entry.published)
        tally.failed.append(Failure(entry.link, err.reason, err.transient and attempts < self.max_attempts))

    def _save(self) -> None:
        """Save the ledger (the caller holds the lock); a ledger that cannot be written is logged, not fatal:
        the articles are in the folder, and the next run that can write it records them."""
        try:
            self.ledger.save()
        except OSError as err:
            log.error("could not write %s: %s", self.ledger.path, err)
            self.ledger.note = f"could not write {self.ledger.path.name} ({err.strerror or err})"

    def copies(self) -> NearDuplicates:
        """The duplicate index over every article in the folder, built on first use (the caller holds the lock)."""
        if self._copies is None:
            self._copies = NearDuplicates(self.threshold)
            for path in sorted(self.root.iterdir()):
                if path.name.startswith(".") or path.suffix.lower() not in ARTICLE_SUFFIXES or path.name == FEEDS_FILE:
                    continue
                try:
                    text = path.read_bytes()[:MAX_BYTES].decode("utf-8", errors="replace").replace("\r\n", "\n")
                except OSError:
                    continue
                _, start = read_source(text)
                self._copies.add(path.stem, text[start:] if start else text.partition("\n")[2])
        return self._copies

    def tell(self, event: Progress) -> None:
        if self._progress is not None:
            with self._progress_lock:
                self._progress(event)

