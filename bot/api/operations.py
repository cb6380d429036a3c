"""The routes operators and orchestrators read: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse

from bot.api.metrics import CONTENT_TYPE
from bot.api.schemas import Ready

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}

router.add_api_route("/health", healthz, methods=["GET"], include_in_schema=False)

@router.get("/readyz", response_model=Ready)
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

@router.get("/metrics", response_class=PlainTextResponse)
def prometheus(request: Request) -> Response:
    """Prometheus text: requests and latency by route, answers, abstentions, the loaded index."""
    return Response(request.app.state.metrics.render(getattr(request.app.state, "engine", None)), media_type=CONTENT_TYPE)
