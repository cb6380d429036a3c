"""The feeds step of a refresh: when the corpus folder has a feeds.txt, fetch what is new into it first."""

from __future__ import annotations

import logging
from typing import Callable

from bot.settings import Settings
from retrieval.web.feeds import FEEDS_FILE
from retrieval.web.report import CollectReport, Progress

log = logging.getLogger(__name__)


def collect_news(settings: Settings, progress: Callable[[Progress], None] | None = None) -> CollectReport | None:
    """Run the collector over the corpus folder's feeds; None when the folder has no feeds.txt.

    Never raises: a failing feed is in its own line of the report, and anything else that goes wrong (a
    bug, a folder that cannot be written) is a note of the report, so the refresh after it still indexes
    what the folder holds: nothing indexed is lost to a collect that failed.
    """
    if not (settings.corpus / FEEDS_FILE).is_file():
        return None
    from retrieval.web.collect import collect

    try:
        return collect(settings.corpus, contact=settings.fetch_contact, request_timeout=settings.fetch_timeout_seconds,
                       feed_timeout=settings.feed_timeout_seconds, max_bytes=settings.fetch_max_bytes,
                       pause=settings.fetch_pause_seconds, progress=progress)
    except Exception as err:  # noqa: BLE001 - reported, and the index is still brought up to date
        log.exception("collecting the feeds of %s failed", settings.corpus)
        return CollectReport(notes=(f"collecting the feeds failed: {type(err).__name__}: {err}",))
