"""The admin routes: run the refresh job in the background and hot-swap the index; Bearer token only."""

from __future__ import annotations

import datetime
import hmac
import logging
import threading
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from bot.api.schemas import CollectOut, FeedOut
from bot.settings import Settings
from retrieval.engine import Engine
from retrieval.errors import CiteqaError

log = logging.getLogger(__name__)


class RefreshStatus(BaseModel):
    state: Literal["idle", "running", "succeeded", "failed"] = "idle"
    stage: Literal["collecting", "indexing"] | None = None  # while running: fetching the feeds, or indexing
    progress: list[str] = []  # while collecting: the latest step of each feed
    feeds: CollectOut | None = None  # the feeds step's report, when the corpus folder has a feeds.txt
    started: datetime.datetime | None = None
    finished: datetime.datetime | None = None
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    embedded: int = 0
    passages: int = 0
    published: str | None = None  # the version the job published, None when nothing changed
    swapped: bool = False  # whether the server now answers from a version it did not have before
    index_version: str | None = None  # the version loaded when the job finished
    error: str | None = None


class RefreshJob:
    """One refresh at a time, in a thread of its own, so questions go on being answered meanwhile."""

    def __init__(self, engine: Engine, settings: Settings):
        self.engine, self.settings = engine, settings
        self._lock = threading.Lock()
        self._status = RefreshStatus()

    @property
    def status(self) -> RefreshStatus:
        with self._lock:
            return self._status.model_copy()

    def start(self) -> bool:
        """False when a refresh is already running."""
        with self._lock:
            if self._status.state == "running":
                return False
            self._status = RefreshStatus(state="running", started=_now())
        threading.Thread(target=self._run, name="citeqa-refresh", daemon=True).start()
        return True

    def _run(self) -> None:
        before = self._loaded_name()
        try:
            self._collect()
            report = self.engine.store.refresh(self.settings.corpus, self.engine.embedder,
                                               max_bytes=self.settings.max_article_bytes,
                                               settle_seconds=self.settings.article_settle_seconds,
                                               dense_index=self.settings.dense_index)
            self.engine.reload()
            # The index watcher may have swapped the new version in already, so reload() alone can say False.
            swapped = self._loaded_name() not in (None, before)
            update = dict(state="succeeded", added=len(report.added), changed=len(report.changed),
                          removed=len(report.removed), unchanged=len(report.unchanged), skipped=len(report.skipped),
                          embedded=report.embedded, passages=report.passages, published=report.version,
                          swapped=swapped)
        except CiteqaError as err:
            log.error("refresh failed: %s", err)
            update = dict(state="failed", error=str(err))
        except OSError as err:  # disk full, file too large, I/O error: nothing was published
            log.error("refresh failed, nothing published: %s", err)
            update = dict(state="failed", error=f"could not write the index, nothing was published: {err}")
        except Exception as err:  # the job must always end in a state a client can read
            log.exception("refresh failed")
            update = dict(state="failed", error=f"unexpected error: {type(err).__name__}")
        with self._lock:
            self._status = self._status.model_copy(update=dict(update, stage=None, finished=_now(),
                                                               index_version=self._loaded_name()))

    def _collect(self) -> None:
        """The feeds step, its progress and then its report in the status; the indexing goes on whatever it gives."""
        from bot.news import collect_news
        from bot.render import collect_progress, collect_report

        steps: dict[str, str] = {}

        def progress(event) -> None:
            steps[event.feed] = collect_progress(event)
            with self._lock:
                self._status = self._status.model_copy(update=dict(stage="collecting", progress=list(steps.values())))

        report = collect_news(self.settings, progress)
        feeds = None if report is None else CollectOut(
            feeds=[FeedOut.build(f) for f in report.feeds], bad_lines=[str(b) for b in report.bad_lines],
            notes=list(report.notes), report=collect_report(report))
        with self._lock:
            self._status = self._status.model_copy(update=dict(stage="indexing", progress=[], feeds=feeds))

    def _loaded_name(self) -> str | None:
        """The version the server answers from, None while it is not ready."""
        return self.engine.index.name if self.engine.ready else None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


bearer = HTTPBearer(auto_error=False, description="the CITEQA_ADMIN_TOKEN")


def admin_router(token: str) -> APIRouter:
    """The admin routes; mounted only when a token is configured."""
    expected = token.encode()

    def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if credentials is None:
            raise HTTPException(401, "this route needs Authorization: Bearer <admin token>",
                                headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise HTTPException(403, "wrong admin token")

    auth = {401: {"description": "no Bearer token"}, 403: {"description": "wrong token"}}
    router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(authorised)], responses=auth)

    @router.post("/refresh", status_code=202, response_model=RefreshStatus,
                 responses={409: {"description": "a refresh is already running", "model": RefreshStatus}})
    def start_refresh(request: Request, response: Response) -> RefreshStatus:
        """Fetch what the corpus folder's feeds.txt lists that is new, bring the index up to date with the folder in
        the background, then hot-swap it."""
        job: RefreshJob = request.app.state.refresh_job
        if not job.start():
            response.status_code = 409
        return job.status

    @router.get("/refresh/status", response_model=RefreshStatus)
    def refresh_status(request: Request) -> RefreshStatus:
        """How the last refresh went (or how far the running one is)."""
        return request.app.state.refresh_job.status

    return router
