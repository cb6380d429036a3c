"""The feed list (`feeds.txt`) and the entries of one RSS or Atom feed (feedparser)."""

from __future__ import annotations

import calendar
import datetime
import logging
from dataclasses import dataclass
from pathlib import Path

from retrieval.web.errors import NotAFeed, WebError
from retrieval.web.fetch import check_url

log = logging.getLogger(__name__)

FEEDS_FILE = "feeds.txt"


@dataclass(frozen=True, slots=True)
class FeedLine:
    url: str
    line: int  # 1-based, for messages that point at feeds.txt


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{FEEDS_FILE} line {self.line}: {self.reason}: {self.text!r}"


@dataclass(frozen=True, slots=True)
class Entry:
    link: str  # absolute URL of the entry's page
    title: str | None = None
    published: str | None = None  # ISO date from the feed (published, else updated)
    id: str | None = None  # the feed's guid / atom:id, when it has one


def read_feed_list(folder: str | Path) -> tuple[list[FeedLine], list[BadLine]]:
    """The feeds of `folder/feeds.txt` (none when it is missing) and the lines that are not one."""
    path = Path(folder) / FEEDS_FILE
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except FileNotFoundError:
        return [], []
    except OSError as err:
        return [], [BadLine(0, str(path), f"unreadable ({err.strerror or err})")]
    return parse_feed_list(text)


def parse_feed_list(text: str) -> tuple[list[FeedLine], list[BadLine]]:
    """One URL a line; `#` starts a comment (a whole line, or after the URL and a space); blank lines are skipped."""
    feeds: list[FeedLine] = []
    bad: list[BadLine] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        # A "#" glued to the URL is its fragment; only " #" opens a comment.
        line = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if not line:
            continue
        if any(c.isspace() for c in line):
            bad.append(BadLine(number, raw.strip(), "one URL a line, without spaces"))
            continue
        try:
            check_url(line)
        except WebError as err:
            bad.append(BadLine(number, raw.strip(), err.reason))
            continue
        if line in first_line:
            bad.append(BadLine(number, raw.strip(), f"already listed on line {first_line[line]}"))
            continue
        first_line[line] = number
        feeds.append(FeedLine(line, number))
    return feeds, bad


def parse_feed(data: bytes, url: str, content_type: str | None = None) -> list[Entry]:
    """The entries of an RSS or Atom document, in the feed's order; NotAFeed when it is neither.

    feedparser is lenient: a feed with a stray unescaped "&" still gives its entries (logged), but an
    HTML page or a JSON error body has no feed version and no entries, and is refused.
    """
    import io

    import feedparser

    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A file object, never bytes: feedparser opens bytes that name a file on this machine as that file.
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        why = parsed.get("bozo_exception")
        raise NotAFeed(url, f"not RSS or Atom ({_short(why) if why else 'no feed elements'})")
    if parsed.get("bozo"):
        log.info("%s: feed parsed leniently: %s", url, _short(parsed.get("bozo_exception")))
    entries = []
    for item in parsed.entries:
        link = _link(item, url)
        if link is None:
            log.info("%s: an entry without a link (%s) is skipped", url, item.get("title", "untitled"))
            continue
        entries.append(Entry(link=link, title=" ".join((item.get("title") or "").split()) or None,
                             published=_iso(item.get("published_parsed") or item.get("updated_parsed")),
                             id=item.get("id") or None))
    return entries


def _link(item, base: str) -> str | None:
    from urllib.parse import urljoin

    candidates = [item.get("link")]
    candidates += [link.get("href") for link in item.get("links", []) if link.get("rel", "alternate") == "alternate"]
    guid = item.get("id") or ""
    if item.get("guidislink") or guid.startswith(("http://", "https://")):
        candidates.append(guid)
    for candidate in candidates:
        if candidate and candidate.strip():
            return urljoin(base, candidate.strip())
    return None


def _iso(parsed) -> str | None:
    """feedparser's UTC struct_time as an ISO date; None when the feed gave none or an impossible one."""
    if not parsed:
        return None
    try:
        return datetime.datetime.fromtimestamp(calendar.timegm(parsed), datetime.timezone.utc).date().isoformat()
    except (OverflowError, ValueError, OSError):
        return None


def _short(value) -> str:
    return " ".join(str(value).split())[:160]
