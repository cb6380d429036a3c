"""What a client may send the HTTP API: body size and encoding, and how often (a per-client token bucket)."""

from __future__ import annotations

import json
import math
import threading
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def send_error(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """A JSON error from below the routing layer, shaped like the app's own: {"detail": "..."}."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """Refuses bodies over `max_bytes` (413) and bodies that are not UTF-8 (400) before a route under `prefix` sees them.

    The body is read here, at most `max_bytes` of it, and handed on whole: a client that sends a
    chunked body without a Content-Length is held to the same limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str = "/v1/"):
        self.app, self.max_bytes, self.prefix = app, max_bytes, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or not scope["path"].startswith(self.prefix)
                or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE")):
            return await self.app(scope, receive, send)
        too_large = f"the request body is larger than {self.max_bytes} bytes"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await send_error(send, 413 if length.isdigit() else 400,
                                    too_large if length.isdigit() else "bad Content-Length", {"connection": "close"})
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await send_error(send, 413, too_large, {"connection": "close"})
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            return await send_error(send, 400, f"the request body is not UTF-8 (byte {err.start})")
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


class TokenBuckets:
    """One bucket per client: `burst` requests at once, refilled at `per_minute`; thread-safe."""

    def __init__(self, per_minute: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = per_minute / 60.0, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the request may go ahead; otherwise the seconds until it could."""
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1 - tokens) / self.rate
            if len(self._buckets) > 10_000:  # forget clients whose buckets have refilled
                full = self.burst / self.rate
                self._buckets = {c: (t, w) for c, (t, w) in self._buckets.items() if now - w < full}
        return wait


class RateLimit:
    """429 with Retry-After for a client (by address) that is over its budget on a path under `prefix`."""

    def __init__(self, app: ASGIApp, per_minute: float, burst: int, prefix: str = "/v1/"):
        self.app, self.prefix = app, prefix
        self.buckets = TokenBuckets(per_minute, burst) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.buckets is not None and scope["type"] == "http" and scope["path"].startswith(self.prefix):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.buckets.take(client)
            if wait > 0:
                return await send_error(send, 429, "too many requests: slow down and try again later",
                                        {"retry-after": str(max(1, math.ceil(wait)))})
        await self.app(scope, receive, send)
