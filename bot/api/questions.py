"""The routes of a conversation: ask (with follow-ups), forget a conversation, say whether an answer helped."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from bot.api.schemas import CONVERSATION_ID, NOT_FOUND, AskIn, AskOut, FeedbackIn
from bot.conversation_store import converse
from retrieval.question.filters import Filters

# Conversations of the web API live beside the Telegram bot's in one store; the prefix keeps an HTTP
# client from reading or extending a Telegram chat's context by guessing its id.
CONVERSATION_PREFIX = "api:"

# Said when a client's conversation_id holds no live conversation: its question was answered without history.
NOTICES = {"expired": "Conversation {} has expired: this question starts it afresh.",
           "unknown": "Conversation {} is unknown: this question starts it afresh."}

router = APIRouter(tags=["questions"])


@router.post("/v1/ask", response_model=AskOut)
def ask_route(body: AskIn, request: Request) -> Response:
    """Answer a question with numbered citations; pass the returned conversation_id to ask a follow-up."""
    started, state = time.perf_counter(), request.app.state
    conversation = body.conversation_id or uuid.uuid4().hex
    filters = Filters(None if body.article_ids is None else frozenset(body.article_ids),
                      body.published_after, body.published_before)
    answer, turn, before = converse(state.engine, state.conversations, CONVERSATION_PREFIX + conversation,
                                    body.question, filters, top_k=body.top_k)
    state.metrics.answered(answer.abstained)
    # Serialised here, not returned as a model: FastAPI validates a model a plain `def` returns in a
    # second trip through the threadpool, and each trip waits for a thread to wake (ms on a busy machine).
    notice = None if body.conversation_id is None or before == "live" else NOTICES[before].format(conversation)
    out = AskOut.build(answer, conversation, turn, time.perf_counter() - started, before != "live", notice)
    return Response(out.model_dump_json(), media_type="application/json")

@router.delete("/v1/conversations/{conversation_id}", status_code=204, responses=NOT_FOUND)
def forget(conversation_id: Annotated[str, Path(**CONVERSATION_ID)], request: Request) -> Response:
    """Forget a conversation: its next question starts afresh."""
    if not request.app.state.conversations.forget(CONVERSATION_PREFIX + conversation_id):
        raise HTTPException(404, "no such conversation (it may have expired)")
    return Response(status_code=204)

@router.post("/v1/feedback", status_code=201, responses=NOT_FOUND)
def feedback(body: FeedbackIn, request: Request) -> dict[str, bool]:
    """Say whether an answer helped: `turn` is the number /v1/ask returned with it."""
    store, key = request.app.state.conversations, CONVERSATION_PREFIX + body.conversation_id
    if not store.turn_exists(key, body.turn):
        raise HTTPException(404, "no such turn in that conversation (it may have expired)")
    store.add_feedback(key, body.turn, body.helpful, body.comment, source="api")
    return {"stored": True}
