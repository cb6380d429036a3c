"""Latency of a question over HTTP next to the same question in-process, measured in one run.

    .venv/bin/python benchmarks/api_latency.py [--corpus seeds] [--model all-MiniLM-L6-v2] [--rounds 200]
    .venv/bin/python benchmarks/api_latency.py --index .citeqa/bench-cache/index-10000   # a published index

Indexes the corpus into a temporary folder (or opens a published index, such as the cached-vector
corpora `benchmarks/run.py` leaves in .citeqa/bench-cache/), times `ask` in this process, then
starts `citeqa serve` on a free loopback port over the same index and times `POST /v1/ask` with
one keep-alive client (each request a new conversation, so each writes a turn to the conversation
store); the two take turns question by question, so load from other work on the machine falls on
both. Prints p50 and p95 of both and the difference: what the HTTP layer (JSON, validation,
middleware, the store, loopback) adds to a question; the same request through http.client shows
how much of that is the client's own Python.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot import runtime  # noqa: E402

runtime.prepare()  # the process settings of every citeqa entry point (bot/runtime.py)

import httpx  # noqa: E402

from bot.settings import Settings, make_embedder  # noqa: E402
from retrieval.embed.embedders import SentenceTransformerEmbedder  # noqa: E402
from retrieval.engine import Engine, ask  # noqa: E402
from retrieval.evaluate.run import load_questions  # noqa: E402
from retrieval.index.files.refresh import build  # noqa: E402

SEED_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev.jsonl"
FALLBACK = ["Who attended the Beijing WIPO meeting?", "Who presided over the special meeting on IP protection?",
            "What is the capital of Mongolia?"]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def questions(corpus: Path | None) -> list[str]:
    """The seeds' dev questions for the seeds or a published benchmark index (its corpora hold the seeds)."""
    if (corpus is None or corpus.resolve() == (ROOT / "seeds").resolve()) and SEED_QUESTIONS.exists():
        return [c[0].question for c in load_questions(SEED_QUESTIONS)]  # first turns: each stands alone
    return FALLBACK


def interleaved(calls: dict, items: list[str], rounds: int) -> dict[str, list[float]]:
    """Seconds per call, the paths taking turns on each question: noise from other work hits both alike."""
    seconds = {name: [] for name in calls}
    for i in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call(items[i % len(items)])
            seconds[name].append(time.perf_counter() - started)
    return seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(index: Path, model: str, scratch: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "CITEQA_INDEX": str(index), "CITEQA_MODEL": model,
           "CITEQA_CONVERSATIONS": str(scratch / "conversations.sqlite"), "CITEQA_RATE_LIMIT_PER_MINUTE": "0",
           "CITEQA_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([str(Path(sys.executable).with_name("citeqa")), "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(base + "/readyz", trust_env=False).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("citeqa serve did not become ready")


def plain_post(base: str):
    """POST /v1/ask through the standard library's client, on its own keep-alive connection: beside
    httpx, it shows how much of what HTTP adds is the client's own Python rather than the server's."""
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    return lambda q: post_question(connection, q)


def post_question(connection: http.client.HTTPConnection, question: str) -> bytes:
    """POST /v1/ask a question in a new conversation on a keep-alive connection; the response body."""
    connection.request("POST", "/v1/ask", json.dumps({"question": question}), {"Content-Type": "application/json"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"POST /v1/ask: {response.status} {body[:200]!r}")
    return body


def one_torch_thread(engine: Engine) -> int | str:
    """Embed with one torch thread here, as the server does in each worker (bot.api.app): both sides then
    compute the same thing. Left alone, the count here would depend on import order: FAISS's
    omp_set_num_threads(1) binds to torch's OpenMP only when torch was imported first."""
    if not isinstance(engine.embedder, SentenceTransformerEmbedder):
        return "-"
    import torch

    torch.set_num_threads(1)
    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--model", default=Settings(_env_file=None).model)
    parser.add_argument("--index", type=Path, help="a published index to serve as it is, instead of indexing --corpus")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    items = questions(None if args.index else args.corpus)
    with tempfile.TemporaryDirectory(prefix="citeqa-bench-") as scratch:
        scratch = Path(scratch)
        settings = Settings(_env_file=None, model=args.model)
        index = args.index or scratch / "index"
        if not args.index:
            build(args.corpus, index, make_embedder(settings))
        engine = Engine.open(index, make_embedder(settings))
        threads = one_torch_thread(engine)
        process, base = serve(index, args.model, scratch)
        try:
            with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
                inside: list[float] = []  # the route's own `seconds`: ask and the conversation store

                def post(q: str) -> None:
                    response = client.post("/v1/ask", json={"question": q})
                    response.raise_for_status()
                    inside.append(response.json()["seconds"])

                calls = {"ask() in-process": lambda q: ask(engine, q), "POST /v1/ask over loopback": post,
                         "the same POST with http.client": plain_post(base)}
                interleaved(calls, items, len(items))  # warm up: models, caches, the connection
                inside.clear()
                seconds = interleaved(calls, items, args.rounds)
                seconds["inside the route (its seconds)"] = inside
        finally:
            process.terminate()
            process.wait(timeout=30)

    local, remote, plain, _ = seconds.values()
    source = args.index or args.corpus
    print(f"{len(items)} questions, {len(engine.index.passages):,} passages ({source}), model {args.model}, "
          f"{args.rounds} rounds each, {os.cpu_count()} CPUs, torch threads in-process: {threads}")
    print(f"| {'path':<31} | {'p50 ms':>7} | {'p95 ms':>7} |")
    print(f"|{'-' * 33}|{'-' * 9}|{'-' * 9}|")
    for name, values in seconds.items():
        print(f"| {name:<31} | {percentile(values, 50) * 1000:7.1f} | {percentile(values, 95) * 1000:7.1f} |")
    for name, values in (("HTTP adds (p50)", remote), ("HTTP adds, http.client (p50)", plain)):
        print(f"| {name:<31} | {(percentile(values, 50) - percentile(local, 50)) * 1000:7.1f} | {'':>7} |")


if __name__ == "__main__":
    main()
