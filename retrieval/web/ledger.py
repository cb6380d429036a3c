"""What each feed gave, kept in the corpus folder: so a deleted article stays deleted and a rerun fetches only news."""

from __future__ import annotations

import datetime
import json
import logging
import os
from pathlib import Path

from retrieval.web.article_file import write_atomically
from retrieval.web.fetch import Validators

log = logging.getLogger(__name__)

LEDGER_FILE = "feeds.ledger.json"
FORMAT = 1
# Entry statuses. "written" and "duplicate" are final: the link is never fetched again, whatever
# became of the file. "failed" is tried again on later runs while the failure may pass.
WRITTEN, DUPLICATE, FAILED = "written", "duplicate", "failed"
STATUSES = (WRITTEN, DUPLICATE, FAILED)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Ledger:
    """The JSON record: `feeds` (feed URL -> validators, last check, last error) and `entries`
    (normalised entry link -> status, article id, feeds that listed it, ...). Not thread-safe: the
    caller holds a lock."""

    def __init__(self, path: Path, feeds: dict | None = None, entries: dict | None = None, note: str | None = None):
        self.path = path
        self.feeds: dict[str, dict] = feeds or {}
        self.entries: dict[str, dict] = entries or {}
        self.note = note  # set when an unreadable ledger was set aside: deleted articles may come back once

    @classmethod
    def load(cls, folder: str | Path) -> Ledger:
        path = Path(folder) / LEDGER_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format') if isinstance(data, dict) else '?'}, expected {FORMAT}")
            feeds = {k: v for k, v in dict(data.get("feeds", {})).items() if isinstance(v, dict)}
            # An entry a person edited into something else is dropped, not fatal: at worst it is fetched again.
            entries = {k: v for k, v in dict(data.get("entries", {})).items()
                       if isinstance(v, dict) and isinstance(v.get("feeds"), list) and v.get("status") in STATUSES}
            return cls(path, feeds, entries)
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError, TypeError) as err:
            # Never lose it silently: the old file stays beside, renamed, for a person to look at.
            aside = path.with_name(f"{LEDGER_FILE}.unreadable-{datetime.datetime.now():%Y%m%d-%H%M%S}")
            try:
                os.replace(path, aside)
            except OSError:
                aside = path
            note = f"{path.name} was unreadable ({err}); kept as {aside.name}, starting a new one"
            log.error("%s", note)
            return cls(path, note=note)

    def save(self) -> None:
        """Write atomically: a reader, or a crash, sees the old ledger or the new one, never half of one."""
        data = {"format": FORMAT, "saved": now(), "feeds": self.feeds, "entries": self.entries}
        write_atomically(self.path, json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n")

    def validators(self) -> dict[str, Validators]:
        return {url: Validators(f.get("etag"), f.get("last_modified")) for url, f in self.feeds.items()
                if f.get("etag") or f.get("last_modified")}

    def checked(self, feed: str, validators: Validators | None, error: str | None) -> None:
        record = self.feeds.setdefault(feed, {})
        record.update(checked=now(), error=error)
        if validators is not None:
            record.update(etag=validators.etag, last_modified=validators.last_modified)

    def record(self, link: str, feed: str, status: str, **fields) -> dict:
        """Create or update the entry of `link`; `feed` joins the feeds that listed it."""
        entry = self.entries.setdefault(link, {"first_seen": now(), "feeds": []})
        if feed not in entry["feeds"]:
            entry["feeds"].append(feed)
        entry.update(status=status, last_tried=now(), **{k: v for k, v in fields.items() if v is not None})
        if status != FAILED:
            for stale in ("reason", "transient"):
                entry.pop(stale, None)
        return entry

    def retryable(self, feed: str, max_attempts: int) -> list[str]:
        """Links this feed gave whose failure may pass, with tries left."""
        return [link for link, e in self.entries.items() if feed in e.get("feeds", ()) and e.get("status") == FAILED
                and e.get("transient") and e.get("attempts", 0) < max_attempts]


def other_sources(folder: str | Path) -> dict[str, list[str]]:
    """Article id -> the URLs of the copies of it that were not kept (wire copies), from the folder's ledger.

    Read-only: an unreadable ledger gives {} here and is dealt with by the next collect.
    """
    try:
        entries = json.loads((Path(folder) / LEDGER_FILE).read_text(encoding="utf-8")).get("entries", {})
    except (OSError, ValueError, AttributeError):
        return {}
    found: dict[str, list[str]] = {}
    for link, entry in sorted(entries.items()):
        if isinstance(entry, dict) and entry.get("status") == DUPLICATE and entry.get("duplicate_of"):
            found.setdefault(entry["duplicate_of"], []).append(entry.get("url") or link)
    return found
