"""What the reader costs a question, over the XQuAD corpus (240 paragraphs), next to its floors, in one run.

    .venv/bin/python benchmarks/reader_cost.py [--questions 120]

Five paths take turns on each question (noise from other work falls on all alike):
- `bare`: embed the question and search FAISS (the depth `search` uses): the floor without a reader;
- `bare_reader`: the same, then the reader's forward passes over the three best passages whole;
- `ask`: the whole answer path, whose reader forward passes (over what it reads: the best sentences
  and the ones before them) are timed inside it, so that `ask` is also put over bare + its own passes;
- `floor`: issue 34's floor: embed the question, an exact FAISS search (IndexFlatIP over the version's
  vectors) and ONE forward pass of the reader over the question and the gold sentence (the article's
  sentence holding the question's evidence) with the sentence before it;
- `http_ask`: POST /v1/ask to `citeqa serve` on loopback over the same index (benchmarks/api_latency.py's
  server and keep-alive http.client), each question a new conversation.
Then the CoQA CNN conversations (../shared/convqa/coqa-cnn-dev) over their own index: each conversation's
opening turn is asked over HTTP untimed, and its follow-ups (whose history lengthens what the reader reads)
take turns with their own `floor`, asked as the API's client would (the conversation id, the story as
`article_ids`).
Prints p50 / p95 of each, the ratios, the reader's own cost, and the process's memory with and without the
reader loaded; writes benchmarks/results/reader_cost.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot import runtime  # noqa: E402

runtime.prepare()  # the process settings of every citeqa entry point (bot/runtime.py)

from benchmarks.api_latency import interleaved, percentile, post_question, serve  # noqa: E402
from bot.settings import Settings, make_embedder  # noqa: E402
from retrieval.engine import Engine, ask  # noqa: E402
from retrieval.evaluate.run import Item, load_questions  # noqa: E402
from retrieval.answer.reader import MODEL_DIR, MODEL_FILE, make_windows  # noqa: E402
from retrieval.index.files.refresh import build  # noqa: E402

XQUAD = ROOT.parent / "shared" / "eval" / "xquad"
COQA = ROOT.parent / "shared" / "convqa" / "coqa-cnn-dev"
DEPTH = 50  # the dense depth of `bare`, as `search` asks for


class TimedSession:
    """The reader's ONNX session, timing each run into the last slot of `seconds` (one slot per `ask`)."""

    def __init__(self, session, seconds: list[float]):
        self.session, self.seconds, self.timing = session, seconds, False

    def run(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.session.run(*args, **kwargs)
        finally:
            if self.timing:
                self.seconds[-1] += time.perf_counter() - started

    def __getattr__(self, name):
        return getattr(self.session, name)


def gold_context(index, article_id: str | None, evidence: str | None) -> str | None:
    """The article's sentence that holds the evidence (where its first words are), with the sentence before it
    in its passage; None when the evidence is not found in the article's passages."""
    if not article_id or not evidence or not evidence.split():
        return None
    # CoQA's rationales may run past a sentence's end: their first words place them; any spacing between words.
    needle = re.compile(r"\s+".join(map(re.escape, evidence.split()[:8])))
    for passage in index.passages_of(article_id):
        found = needle.search(passage.text)
        if found is None:
            continue
        sentences = index.sentences_of(passage)
        for k, (start, end, _) in enumerate(sentences):
            if start <= found.start() < end:
                return passage.text[sentences[k - 1][0] if k else start:end]
    return None


def floor_of(engine: Engine):
    """Issue 34's floor for a (question, gold context): embed + exact FAISS + one reader forward pass."""
    import faiss

    version = engine.index.version
    vectors = version.dense.vectors_of(version.passages.rows)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def floor(item: tuple[str, str]) -> None:
        question, context = item
        vector = engine.embedder.encode([question])[0]
        exact.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), DEPTH)
        engine.reader.read(question, [context])

    return floor


def more_than_one_window(engine: Engine, items: list[tuple[str, str]]) -> int:
    """How many (question, gold context) the reader cannot read in one window: the floor must be one pass."""
    reader = engine.reader
    return sum(len(make_windows(reader.tokenizer, q, [c], reader.max_length, reader.stride)) > 1 for q, c in items)


def xquad(engine: Engine, embedder, questions: list[tuple[Item, str]], base: str) -> tuple[dict, dict]:
    """The five paths in turns over XQuAD's first questions (each with its gold context): seconds, and counts."""
    version = engine.index.version

    def bare(q: str):
        vector = embedder.encode([q])[0]
        return version.dense.search(vector, DEPTH)

    def bare_reader(q: str) -> None:
        rows = [row for row, _ in bare(q)[:3]]
        engine.reader.read(q, [version.passages[version.position[row]].text for row in rows])

    forward: list[float] = []
    timed = engine.reader.session = TimedSession(engine.reader.session, forward)

    def asked(q: str) -> None:
        forward.append(0.0)
        timed.timing = True
        try:
            ask(engine, q)
        finally:
            timed.timing = False

    floor = floor_of(engine)
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    items = [(item.question, context) for item, context in questions]
    by_question = {"bare": bare, "bare_reader": bare_reader, "ask": asked,
                   "http_ask": lambda q: post_question(connection, q)}
    calls = {name: (lambda item, call=call: call(item[0])) for name, call in by_question.items()}
    calls["floor"] = floor
    interleaved(calls, items, 10)  # warm up
    forward.clear()
    seconds = interleaved(calls, items, len(items))
    engine.reader.session = timed.session
    seconds["ask_forward"] = forward[:]
    return seconds, {"floor_more_than_one_window": more_than_one_window(engine, items)}


def coqa(embedder, conversations: list, limit: int, scratch: Path, model: str) -> tuple[dict, dict]:
    """CoQA's follow-ups over HTTP in their conversations, in turns with their floors: seconds, and counts."""
    index = scratch / "coqa-index"
    build(COQA / "corpus", index, embedder)
    engine = Engine.open(index, embedder)
    engine.warm_up()
    followups = []
    for conversation in conversations:
        for item in conversation[1:]:
            context = gold_context(engine.index, item.article, item.evidence)
            if context is not None:
                followups.append((conversation, item, context))
        if len(followups) >= limit:
            break
    followups = followups[:limit]
    floor = floor_of(engine)
    (scratch / "coqa").mkdir()
    process, base = serve(index, model, scratch / "coqa")
    try:
        connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
        openers = {c[0].id: c[0] for c, _, _ in followups}
        calls = {"coqa_http_ask": lambda f: ask_in(connection, f"{run}-{f[0][0].id}", f[1]),
                 "coqa_floor": lambda f: floor((f[1].question, f[2]))}
        for run, rounds in (("warm", min(10, len(followups))), ("timed", len(followups))):
            # Each conversation's opening turn, untimed, under this run's ids: its follow-ups carry it.
            for opener in openers.values():
                ask_in(connection, f"{run}-{opener.id}", opener)
            seconds = interleaved(calls, followups, rounds)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return seconds, {"coqa_followups": len(followups), "coqa_conversations": len(openers),
                     "coqa_floor_more_than_one_window": more_than_one_window(engine, [(t.question, c)
                                                                                   for _, t, c in followups])}


def ask_in(connection: http.client.HTTPConnection, conversation: str, item) -> None:
    body = {"question": item.question, "conversation_id": conversation, "article_ids": list(item.article_ids)}
    connection.request("POST", "/v1/ask", json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read()
    if response.status != 200:
        raise SystemExit(f"POST /v1/ask: {response.status} {text[:200]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=120, help="XQuAD questions, and CoQA follow-ups")
    args = parser.parse_args()
    settings = Settings()
    embedder = make_embedder(settings)
    with tempfile.TemporaryDirectory(prefix="citeqa-reader-cost-") as scratch:
        scratch = Path(scratch)
        build(XQUAD / "corpus", scratch / "index", embedder)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        engine = Engine.open(scratch / "index", embedder)
        engine.warm_up()
        with_reader = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        questions = [(c[0], gold_context(engine.index, c[0].article, c[0].evidence))
                     for c in load_questions(XQUAD / "dev.jsonl")]
        questions = [(item, context) for item, context in questions if context is not None][:args.questions]
        process, base = serve(scratch / "index", settings.model, scratch)
        try:
            seconds, counts = xquad(engine, embedder, questions, base)
        finally:
            process.terminate()
            process.wait(timeout=30)
        passages = len(engine.index.version.passages)
        more, more_counts = coqa(embedder, load_questions(COQA / "conversations.jsonl"), args.questions, scratch,
                                 settings.model)
        seconds.update(more)
        counts.update(more_counts)
    figures = {f"{name}_ms_p{q}": round(percentile(values, q) * 1000, 2) for name, values in seconds.items()
               for q in (50, 95)}
    own = [b + f for b, f in zip(seconds["bare"], seconds["ask_forward"])]
    figures.update(
        bare_plus_ask_forward_ms_p50=round(percentile(own, 50) * 1000, 2),
        ask_over_bare_plus_its_forward_p50=round(figures["ask_ms_p50"] / (percentile(own, 50) * 1000), 2),
        questions=len(questions), passages=passages,
        ask_over_bare_p50=round(figures["ask_ms_p50"] / figures["bare_ms_p50"], 2),
        ask_over_bare_reader_p50=round(figures["ask_ms_p50"] / figures["bare_reader_ms_p50"], 2),
        reader_ms_p50=round(figures["bare_reader_ms_p50"] - figures["bare_ms_p50"], 2),
        http_ask_over_floor_p50=round(figures["http_ask_ms_p50"] / figures["floor_ms_p50"], 2),
        **counts,
        coqa_http_ask_over_floor_p50=round(figures["coqa_http_ask_ms_p50"] / figures["coqa_floor_ms_p50"], 2),
        peak_rss_mb_before_engine=round(before / 1024, 1), peak_rss_mb_with_engine=round(with_reader / 1024, 1),
        reader_file_mb=round((MODEL_DIR / MODEL_FILE).stat().st_size / 2**20, 1),
        command=f"benchmarks/reader_cost.py --questions {args.questions}", cpus=os.cpu_count(),
        load_average_at_end=round(os.getloadavg()[0], 2),
    )
    out = ROOT / "benchmarks" / "results" / "reader_cost.json"
    out.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
