"""Prometheus metrics of the HTTP API: requests and latency by route, answers and abstentions, the index."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retrieval.engine import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """One registry per app, so several apps in one process (tests) never share counters."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("citeqa_http_requests", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("citeqa_http_request_seconds", "HTTP request latency by route", ["route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.answers = Counter("citeqa_answers", "questions answered, abstentions included", registry=self.registry)
        self.abstentions = Counter("citeqa_abstentions", "questions the articles did not answer", registry=self.registry)
        self.index_info = Gauge("citeqa_index_info", "the loaded index version (always 1)", ["version", "model"],
                                registry=self.registry)
        self.index_passages = Gauge("citeqa_index_passages", "passages in the loaded index", registry=self.registry)
        self.index_articles = Gauge("citeqa_index_articles", "articles in the loaded index", registry=self.registry)

    def answered(self, abstained: bool) -> None:
        self.answers.inc()
        if abstained:
            self.abstentions.inc()

    def render(self, engine: Engine | None) -> bytes:
        self.index_info.clear()
        if engine is not None and engine.ready:
            index = engine.index
            self.index_info.labels(index.name, index.model).set(1)
            self.index_passages.set(index.passage_count)
            self.index_articles.set(len(index.articles))
        return generate_latest(self.registry)


class RequestMetrics:
    """Counts and times every request by its route template (/v1/articles/{article_id}), never its raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route is None:
                route = "/static" if scope["path"].startswith("/static/") else "unmatched"
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
