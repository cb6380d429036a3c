"""What the reader costs a question, over the XQuAD corpus (240 paragraphs), next to its floors, in one run.

    .venv/bin/python benchmarks/reader_cost.py [--questions 120]

Three paths take turns on each question (noise from other work falls on all alike):
- `bare`: embed the question and search FAISS (the depth `search` uses): the floor without a reader;
- `bare_reader`: the same, then the reader's forward passes over the three best passages whole;
- `ask`: the whole answer path, whose reader forward passes (over what it reads: the best sentences
  and the ones before them) are timed inside it, so that `ask` is also put over bare + its own passes.
Prints p50 / p95 of each, ask over each floor, the reader's own cost, and the process's memory with and
without the reader loaded; writes benchmarks/results/reader_cost.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot import runtime  # noqa: E402

runtime.prepare()  # the process settings of every citeqa entry point (bot/runtime.py)

from benchmarks.api_latency import interleaved, percentile  # noqa: E402
from bot.settings import Settings, make_embedder  # noqa: E402
from retrieval.engine import Engine, ask  # noqa: E402
from retrieval.evaluate.run import load_questions  # noqa: E402
from retrieval.answer.reader import MODEL_DIR, MODEL_FILE  # noqa: E402
from retrieval.index.files.refresh import build  # noqa: E402

XQUAD = ROOT.parent / "shared" / "eval" / "xquad"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=120)
    args = parser.parse_args()
    questions = [c[0].question for c in load_questions(XQUAD / "dev.jsonl")][:args.questions]
    embedder = make_embedder(Settings())
    with tempfile.TemporaryDirectory(prefix="citeqa-reader-cost-") as scratch:
        build(XQUAD / "corpus", Path(scratch), embedder)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        engine = Engine.open(Path(scratch), embedder)
        engine.warm_up()
        with_reader = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        version = engine.index.version

        def bare(q: str):
            vector = embedder.encode([q])[0]
            return version.dense.search(vector, 50)

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

        calls = {"bare": bare, "bare_reader": bare_reader, "ask": asked}
        interleaved(calls, questions, 10)  # warm up
        forward.clear()
        seconds = interleaved(calls, questions, len(questions))
        seconds["ask_forward"] = forward[:]
    figures = {f"{name}_ms_p{q}": round(percentile(values, q) * 1000, 2) for name, values in seconds.items()
               for q in (50, 95)}
    own = [b + f for b, f in zip(seconds["bare"], seconds["ask_forward"])]
    figures.update(
        bare_plus_ask_forward_ms_p50=round(percentile(own, 50) * 1000, 2),
        ask_over_bare_plus_its_forward_p50=round(figures["ask_ms_p50"] / (percentile(own, 50) * 1000), 2),
        questions=len(questions), passages=len(version.passages),
        ask_over_bare_p50=round(figures["ask_ms_p50"] / figures["bare_ms_p50"], 2),
        ask_over_bare_reader_p50=round(figures["ask_ms_p50"] / figures["bare_reader_ms_p50"], 2),
        reader_ms_p50=round(figures["bare_reader_ms_p50"] - figures["bare_ms_p50"], 2),
        peak_rss_mb_before_engine=round(before / 1024, 1), peak_rss_mb_with_engine=round(with_reader / 1024, 1),
        reader_file_mb=round((MODEL_DIR / MODEL_FILE).stat().st_size / 2**20, 1),
    )
    out = ROOT / "benchmarks" / "results" / "reader_cost.json"
    out.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
