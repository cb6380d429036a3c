"""Both stores side by side: ask p50 and refresh cost, files-and-FAISS against Milvus (milvus-lite).

    .venv/bin/python benchmarks/stores.py [--sizes 1000,10000,100000] [--questions 60]

At each size the same corpus (benchmarks/corpora.py's variants of the real articles, written as files)
is built into both stores by their own `refresh`, with the same vectors: the real model's vectors of
the base passages plus the calibrated noise `make bench` uses, served by a lookup embedder that falls
back to the real model for any text it was not given (the changed article of the refresh figure). So
the build and refresh figures are the stores' own work (reading the folder, hashing, splitting,
writing, term statistics), not the model's. Questions are asked in turns, one store after the other,
so both see the same machine load; the figures to read are the ratios. Writes
benchmarks/results/stores.json, which `run.py` (and `run.py --report-only`) puts into results.md and
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
from bot import runtime  # noqa: E402

runtime.prepare()

import numpy as np  # noqa: E402

import corpora  # noqa: E402
from api_latency import interleaved, percentile  # noqa: E402
from run import CACHE, RESULTS, machine, pick_questions  # noqa: E402
from bot.settings import Settings, make_embedder  # noqa: E402
from retrieval.index.files import versions as store  # noqa: E402
from retrieval.engine import Engine, ask  # noqa: E402
from retrieval.index.files.store import FileStore  # noqa: E402
from retrieval.index.milvus.store import MilvusStore  # noqa: E402
from retrieval.index.refresh import embedding_text  # noqa: E402


class LookupEmbedder:
    """The real embedder's interface over vectors computed once: a text it holds costs a lookup, any
    other text goes to the real model (and is counted)."""

    def __init__(self, real, table: dict[str, np.ndarray]):
        self.real, self.table, self.name, self.fallbacks = real, table, real.name, 0

    @property
    def dimension(self) -> int:
        return self.real.dimension

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        missing = [t for t in texts if t not in self.table]
        if missing:
            self.fallbacks += len(missing)
            self.table.update(zip(missing, self.real.encode(missing, batch_size=batch_size)))
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def vector_table(base, wanted: int, scratch: Path, model: str) -> tuple[dict[str, np.ndarray], int]:
    """Embedding text -> vector for the first `wanted` passages of the variant corpus, and its articles."""
    vectors, sigma, _ = corpora.load_cache(CACHE / "base-vectors.npz", base) or (None, 0, 0)
    if vectors is None:
        raise SystemExit("no cached base vectors: run `make bench` (benchmarks/run.py) once first")
    n_articles, _ = corpora.write_cached(scratch, base, wanted, vectors, sigma, model)
    version = store.load_current(scratch)
    table = {embedding_text(p): version.vectors[i] for i, p in enumerate(version.passages)}
    return table, n_articles


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def measure(real, base, wanted: int, questions: list[str], work: Path) -> dict:
    table, n_articles = vector_table(base, wanted, work / "vectors", real.name)
    folder = corpora.write_folder(work / "corpus", base, n_articles)
    embedder = LookupEmbedder(real, table)
    stores = {"files": FileStore(work / "index"), "milvus": MilvusStore(str(work / "milvus.db"))}
    figures: dict = {"articles": n_articles}
    for name, s in stores.items():
        built, seconds = timed(lambda: s.refresh(folder, embedder, reuse=False))
        figures[f"{name}_build_s"] = seconds
        figures["passages"] = built.passages
        _, figures[f"{name}_refresh_nothing_s"] = timed(lambda: s.refresh(folder, embedder))
        print(f"  {name}: built {built.passages:,} passages in {seconds:.1f} s", flush=True)

    # One article changed (a sentence appended), refreshed into each store in turn.
    changed = sorted(folder.iterdir())[n_articles // 2]
    changed.write_text(changed.read_text(encoding="utf-8").rstrip() + " The figures were corrected on Monday.\n",
                       encoding="utf-8")
    for name, s in stores.items():
        report, figures[f"{name}_refresh_one_s"] = timed(lambda: s.refresh(folder, embedder))
        assert list(report.changed) == [changed.stem], report.changed
    figures["fallback_texts"] = embedder.fallbacks

    engines = {name: Engine.open(s, real) for name, s in stores.items()}
    files_index = engines["files"].index

    def bare(q: str) -> None:  # the floor: embed the question, one FAISS search at the depth search uses
        files_index.dense_search(real.encode([q])[0], 50, None)

    calls = {"bare": bare, **{name: (lambda q, e=e: ask(e, q)) for name, e in engines.items()}}
    interleaved(calls, questions, min(10, len(questions)))  # warm up: caches, milvus-lite's first loads
    seconds = interleaved(calls, questions, len(questions))
    for name, values in seconds.items():
        figures[f"{name}_ms_p50"] = percentile(values, 50) * 1000
        figures[f"{name}_ms_p95"] = percentile(values, 95) * 1000
    # The same answer from both: the cited passages, in order, of every question.
    same = sum([c.passage_id for c in ask(engines["files"], q).citations] ==
               [c.passage_id for c in ask(engines["milvus"], q).citations] for q in questions)
    figures["same_citations"] = same
    for s in stores.values():
        s.close()
    figures["milvus_disk_mb"] = megabytes(work / "milvus.db")
    figures["files_disk_mb"] = megabytes(work / "index")
    return figures


def megabytes(path: Path) -> float:
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="passages of each corpus")
    parser.add_argument("--questions", type=int, default=60)
    args = parser.parse_args()
    started = time.perf_counter()
    real = make_embedder(Settings(_env_file=None, index=ROOT / ".citeqa" / "index"))
    real.encode(["warm up the model"] * 8)
    base = corpora.base_articles()
    questions = pick_questions(args.questions)
    results: dict = {"machine": machine(real), "questions": len(questions), "sizes": []}
    for wanted in [int(s) for s in args.sizes.split(",") if s]:
        print(f"[{time.perf_counter() - started:5.0f}s] {wanted:,} passages", flush=True)
        with tempfile.TemporaryDirectory(prefix="citeqa-stores-", dir=CACHE) as work:
            results["sizes"].append(measure(real, base, wanted, questions, Path(work)))
        print(json.dumps(results["sizes"][-1], indent=1), flush=True)
        gc.collect()
    results["seconds"] = time.perf_counter() - started
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stores.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"done in {results['seconds']:.0f} s; wrote {RESULTS / 'stores.json'}")


if __name__ == "__main__":
    main()
