"""The HTTP API and the web chat: `create_app(engine=None, settings=None)` -> FastAPI, routes thin over `ask`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from bot.api.admin import RefreshJob, admin_router
from bot.conversation_store import ConversationStore, converse, purge_expired_every
from bot.api.limits import BodyGuard, RateLimit
from bot.api.metrics import CONTENT_TYPE, Metrics, RequestMetrics
from bot.api.responses import SecurityHeaders, add_error_handlers
from bot.api.schemas import (ArticleList, ArticleOut, ArticleSummary, AskIn, AskOut, CONVERSATION_ID, Error, FeedbackIn,
                         PassageOut, PassageSpan, Ready)
from bot.index_watch import watch_index
from bot.settings import Settings, make_embedder, make_store
from retrieval.engine import Engine, ask
from retrieval.question.filters import Filters

log = logging.getLogger(__name__)

STATIC = FilePath(__file__).parent.parent / "static"
# Conversations of the web API live beside the Telegram bot's in one store; the prefix keeps an HTTP
# client from reading or extending a Telegram chat's context by guessing its id.
CONVERSATION_PREFIX = "api:"
ERRORS = {code: {"model": Error, "description": text} for code, text in {
    400: "the body is not UTF-8 or not JSON", 413: "the body is too large", 422: "a field was refused",
    429: "too many requests (see Retry-After)", 503: "no index loaded yet"}.items()}
NOT_FOUND = {404: {"model": Error, "description": "not found"}}


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

    @app.post("/v1/ask", response_model=AskOut, tags=["questions"])
    def ask_route(body: AskIn, request: Request) -> Response:
        """Answer a question with numbered citations; pass the returned conversation_id to ask a follow-up."""
        started, state = time.perf_counter(), request.app.state
        conversation = body.conversation_id or uuid.uuid4().hex
        filters = Filters(None if body.article_ids is None else frozenset(body.article_ids),
                          body.published_after, body.published_before)
        answer, turn = converse(state.engine, state.conversations, CONVERSATION_PREFIX + conversation, body.question,
                                filters, top_k=body.top_k)
        metrics.answered(answer.abstained)
        # Serialised here, not returned as a model: FastAPI validates a model a plain `def` returns in a
        # second trip through the threadpool, and each trip waits for a thread to wake (ms on a busy machine).
        out = AskOut.build(answer, conversation, turn, time.perf_counter() - started)
        return Response(out.model_dump_json(), media_type="application/json")

    @app.delete("/v1/conversations/{conversation_id}", status_code=204, tags=["questions"], responses=NOT_FOUND)
    def forget(conversation_id: Annotated[str, Path(**CONVERSATION_ID)], request: Request) -> Response:
        """Forget a conversation: its next question starts afresh."""
        if not request.app.state.conversations.forget(CONVERSATION_PREFIX + conversation_id):
            raise HTTPException(404, "no such conversation (it may have expired)")
        return Response(status_code=204)

    @app.post("/v1/feedback", status_code=201, tags=["questions"], responses=NOT_FOUND)
    def feedback(body: FeedbackIn, request: Request) -> dict[str, bool]:
        """Say whether an answer helped: `turn` is the number /v1/ask returned with it."""
        store, key = request.app.state.conversations, CONVERSATION_PREFIX + body.conversation_id
        if not store.turn_exists(key, body.turn):
            raise HTTPException(404, "no such turn in that conversation (it may have expired)")
        store.add_feedback(key, body.turn, body.helpful, body.comment, source="api")
        return {"stored": True}

    @app.get("/v1/articles", response_model=ArticleList, tags=["articles"])
    def articles(request: Request, offset: Annotated[int, Query(ge=0)] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ArticleList:
        """The indexed articles, in id order."""
        index = request.app.state.engine.index
        page = sorted(index.articles)[offset:offset + limit]
        return ArticleList(index_version=index.name, total=len(index.articles), articles=[
            ArticleSummary.build(index.articles[a], len(index.passages_of(a))) for a in page])

    @app.get("/v1/articles/{article_id:path}", response_model=ArticleOut, tags=["articles"], responses=NOT_FOUND)
    def article(article_id: str, request: Request) -> ArticleOut:
        """One article with its text and where each of its passages lies in it."""
        index = request.app.state.engine.index
        if article_id not in index.articles:
            raise HTTPException(404, "no such article")
        spans = [PassageSpan(id=p.id, start=p.start, end=p.end) for p in index.passages_of(article_id)]
        summary = ArticleSummary.build(index.articles[article_id], len(spans))
        return ArticleOut(**summary.model_dump(), text=index.articles[article_id].text, spans=spans)

    @app.get("/v1/passages/{passage_id:path}", response_model=PassageOut, tags=["articles"], responses=NOT_FOUND)
    def passage(passage_id: str, request: Request) -> PassageOut:
        """One passage (ids look like `<article id>#<n>`: send the # as %23)."""
        found = request.app.state.engine.index.passage(passage_id)
        if found is None:
            raise HTTPException(404, "no such passage")
        return PassageOut.build(found)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    app.add_api_route("/health", healthz, methods=["GET"], include_in_schema=False)

    @app.get("/readyz", response_model=Ready, tags=["operations"])
    def readyz(request: Request) -> Ready:
        """Ready once an index is loaded and a first question has loaded the models (503 until then)."""
        engine = request.app.state.engine
        if engine.reader_error:
            raise HTTPException(503, f"no reader: {engine.reader_error}")
        if not engine.ready:
            raise HTTPException(503, f"no index loaded: {engine.load_error or 'not loaded yet'}")
        index = engine.index
        if not request.app.state.warm:
            raise HTTPException(503, "the index is loaded; the models are still loading")
        return Ready(status="ready", index_version=index.name, articles=len(index.articles),
                     passages=index.passage_count, model=index.model)

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
    def prometheus(request: Request) -> Response:
        """Prometheus text: requests and latency by route, answers, abstentions, the loaded index."""
        return Response(metrics.render(getattr(request.app.state, "engine", None)), media_type=CONTENT_TYPE)

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
