"""The loop every serving front-end runs: load the published index, then any newer version."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from retrieval.engine import Engine
from retrieval.errors import CiteqaError

log = logging.getLogger(__name__)


async def watch_index(engine: Engine, every: float, when_ready: Callable[[], Awaitable[None]] | None = None) -> None:
    """Reload every `every` seconds until cancelled; `when_ready` runs after each look at a loaded index.

    A bad version is logged once (not at every look) and skipped: the loaded one goes on serving.
    Nothing ends the watch but cancellation: a watcher that died would leave a server on its version for good.
    """
    reported = None
    while True:
        try:
            await asyncio.to_thread(engine.reload)
            reported = None
        except CiteqaError as err:
            if str(err) != reported:
                serving = f"still serving {engine.index.name}" if engine.ready else "not ready"
                log.error("index not (re)loaded (%s): %s", serving, err)
                reported = str(err)
        except Exception:
            log.exception("index not (re)loaded: unexpected error")
        if engine.ready and when_ready is not None:
            await when_ready()
        await asyncio.sleep(every)
