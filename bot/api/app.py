"""The HTTP API and the web chat: `create_app(engine=None, settings=None)` -> FastAPI, routes thin over `ask`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path as FilePath

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from bot.api import articles, operations, questions
from bot.api.admin import RefreshJob, admin_router
from bot.conversation_store import ConversationStore, purge_expired_every
from bot.api.limits import BodyGuard, RateLimit
from bot.api.metrics import Metrics, RequestMetrics
from bot.api.responses import SecurityHeaders, add_error_handlers
from bot.api.schemas import Error
from bot.index_watch import watch_index
from bot.settings import Settings, make_embedder, make_store
from retrieval.engine import Engine, ask

log = logging.getLogger(__name__)

STATIC = FilePath(__file__).parent.parent / "static"
ERRORS = {code: {"model": Error, "description": text} for code, text in {
    400: "the body is not UTF-8 or not JSON", 413: "the body is too large", 422: "a field was refused",
    429: "too many requests (see Retry-After)", 503: "no index loaded yet"}.items()}


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine = engine or Engine(make_store(settings), make_embedder(settings), retriever=settings.retriever,
                                           reader_dir=settings.reader)
        if app.state.engine.reader_error:
            log.error("not ready: %s", app.state.engine.reader_error)
        app.state.conversations = ConversationStore(settings.conversations, settings.conversation_ttl_seconds,
                                                    settings.conversation_max_turns)
        app.state.refresh_job = RefreshJob(app.state.engine, settings)
        app.state.warm = False
        if app.state.engine.ready:  # an engine handed in loaded: ready from the first request, not a moment later
            await asyncio.to_thread(_warm_up, app.state.engine)
            app.state.warm = True
        tasks = [asyncio.create_task(_watch_index(app, settings.reload_seconds)),
                 asyncio.create_task(purge_expired_every(app.state.conversations, settings.conversation_purge_seconds))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            app.state.conversations.close()

    app = FastAPI(title="citeqa", summary="Cited answers from a folder of news articles", version="1",
                  lifespan=lifespan, responses=ERRORS)
    app.state.metrics = metrics
    add_error_handlers(app)
    for router in (questions.router, articles.router, operations.router):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def chat() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if token:
        app.include_router(admin_router(token))

    # Outermost last: metrics see every response, the limits run before any route reads a body.
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=metrics)

    if getattr(settings, "telegram_token", None) and getattr(settings, "telegram_webhook_secret", None):
        from bot.telegram.transport import mount_webhook

        mount_webhook(app, settings)
    return app


async def _watch_index(app: FastAPI, every: float) -> None:
    """Load the first index and warm the models up once, then load any newly published version."""

    async def warm_once() -> None:
        if not app.state.warm:
            await asyncio.to_thread(_warm_up, app.state.engine)
            app.state.warm = True

    await watch_index(app.state.engine, every, warm_once)


def _warm_up(engine: Engine) -> None:
    """A question that the index answers loads everything a question needs (the embedding model, the
    reader), so the first user does not wait for it."""
    started = time.perf_counter()
    try:
        index = engine.index
        first = index.passages_of(index.articles.headings[0][0]) if index.articles.headings else []
        ask(engine, "Who " + " ".join(first[0].text.split()[:12]) + "?" if first else "Who?")
    except Exception:
        log.exception("the warm-up question failed; questions will load the models themselves")
    log.info("warmed up in %.2fs", time.perf_counter() - started)
