"""The HTTP API: `create_app(engine=None)` -> FastAPI, routes thin over the shared `ask`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bot.settings import Settings, make_embedder
from retrieval.engine import Engine, ask
from retrieval.errors import BadQuestion, CiteqaError, IndexNotFound
from retrieval.question import MAX_QUESTION_CHARS
from retrieval.types import Turn

log = logging.getLogger(__name__)


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    answer: str = Field("", max_length=20_000)
    article_ids: list[str] = Field(default_factory=list, max_length=20)


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S")
    history: list[TurnIn] = Field(default_factory=list, max_length=20, description="earlier turns, oldest first")


class CitationOut(BaseModel):
    n: int
    article_id: str
    title: str
    passage_id: str
    quote: str
    start: int
    end: int
    score: float


class AnswerOut(BaseModel):
    question: str
    text: str
    span: str | None
    abstained: bool
    citations: list[CitationOut]
    search_query: str
    index_version: str
    seconds: float


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine = engine or Engine(settings.index, make_embedder(settings), retriever=settings.retriever)
        watcher = asyncio.create_task(_watch_index(app.state.engine, settings.reload_seconds))
        yield
        watcher.cancel()

    app = FastAPI(title="citeqa", summary="Cited answers from a folder of news articles", lifespan=lifespan)

    @app.exception_handler(CiteqaError)
    async def library_error(request: Request, err: CiteqaError):
        status = 422 if isinstance(err, BadQuestion) else 503 if isinstance(err, IndexNotFound) else 500
        return JSONResponse({"detail": str(err)}, status_code=status)

    @app.get("/health")
    def health(request: Request) -> dict:
        engine = request.app.state.engine
        if not engine.ready:
            raise HTTPException(503, detail=f"no index loaded from {engine.index_dir}")
        index = engine.index
        return {"status": "ok", "index_version": index.name, "passages": len(index.passages), "model": index.version.model}

    @app.post("/ask", response_model=AnswerOut)
    def ask_route(body: AskIn, request: Request) -> AnswerOut:
        started = time.perf_counter()
        history = [Turn(t.question, t.answer, tuple(t.article_ids)) for t in body.history]
        answer = ask(request.app.state.engine, body.question, history)
        return AnswerOut(**{k: v for k, v in dataclasses.asdict(answer).items() if k != "details"},
                         seconds=round(time.perf_counter() - started, 4))

    return app


async def _watch_index(engine: Engine, every: float) -> None:
    """Load the first index, then any newly published one; a bad version is logged and skipped."""
    while True:
        try:
            await asyncio.to_thread(engine.reload)
        except CiteqaError as err:
            log.error("index not (re)loaded: %s", err)
        await asyncio.sleep(every)
