"""citeqa's OnnxEmbedder against its torch embedder, in the project's own venv: agreement, one query, batches.

    .venv/bin/python benchmarks/onnx_embedder.py            # writes benchmarks/results/onnx_embedder.json

Texts are the passages of the seeds and of the XQuAD corpus, as citeqa embeds them (title and text);
queries are the XQuAD questions. Agreement: cosine of each ONNX vector to torch's, over all of them.
Timing: the backends take turns query by query and batch by batch, so load from other work on a
shared machine falls on all of them alike. "onnx" is the embedder as citeqa runs it (one intra-op
thread for a question, ONNX Runtime's default for a batch); "onnx 1 thread" runs batches on one
thread too, and "torch 1 thread" is torch with torch.set_num_threads(1) around the call, to show
what the thread count alone is worth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot import runtime  # noqa: E402

runtime.prepare()  # the process settings of every citeqa entry point (bot/runtime.py)

import numpy as np  # noqa: E402

from retrieval.articles.folder import read_folder  # noqa: E402
from retrieval.embed.embedders import SentenceTransformerEmbedder  # noqa: E402
from retrieval.embed.onnx_embedder import OnnxEmbedder  # noqa: E402
from retrieval.articles.passages import split_passages  # noqa: E402

XQUAD = ROOT.parent / "shared" / "eval" / "xquad"
OUT = ROOT / "benchmarks" / "results" / "onnx_embedder.json"


def corpus() -> tuple[list[str], list[str]]:
    articles = []
    for folder in (ROOT / "seeds", XQUAD / "corpus"):
        articles.extend(read_folder(folder)[0])
    texts = [f"{p.title}\n{p.text}" for a in articles for p in split_passages(a)]
    questions = [json.loads(line)["question"] for line in (XQUAD / "dev.jsonl").read_text().splitlines() if line.strip()]
    return texts, questions


class TorchOneThread:
    """The torch embedder with torch held to one thread for the call."""

    def __init__(self, embedder: SentenceTransformerEmbedder):
        self.embedder = embedder

    def encode(self, texts, batch_size=32):
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.embedder.encode(texts, batch_size=batch_size)
        finally:
            torch.set_num_threads(before)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300, help="single-query rounds per backend")
    parser.add_argument("--batch-texts", type=int, default=256, help="passages per batch round")
    parser.add_argument("--batch-rounds", type=int, default=3)
    args = parser.parse_args()
    texts, questions = corpus()

    with tempfile.TemporaryDirectory(prefix="onnx-cache-") as cache:
        started = time.perf_counter()
        onnx = OnnxEmbedder(cache_dir=Path(cache))
        onnx.encode(["warm up"])
        export_seconds = time.perf_counter() - started
        started = time.perf_counter()
        cached = OnnxEmbedder(cache_dir=Path(cache))
        cached.encode(["warm up"])
        cached_load_seconds = time.perf_counter() - started
        onnx_one = OnnxEmbedder(cache_dir=Path(cache), threads=1)
        started = time.perf_counter()
        torch_embedder = SentenceTransformerEmbedder()
        torch_embedder.encode(["warm up"])
        torch_load_seconds = time.perf_counter() - started

        # Agreement over every passage and question.
        agreement = {}
        for kind, items in (("passages", texts), ("questions", questions)):
            cosine = np.sum(onnx.encode(items) * torch_embedder.encode(items), axis=1)
            agreement[kind] = {"n": len(items), "cosine_min": float(cosine.min()), "cosine_mean": float(cosine.mean())}

        embedders = {"torch": torch_embedder, "torch 1 thread": TorchOneThread(torch_embedder),
                     "onnx": onnx, "onnx 1 thread": onnx_one}
        for e in embedders.values():
            e.encode(texts[:64])  # warm the batch sessions and torch's allocator
        single = {name: [] for name in ("torch", "torch 1 thread", "onnx")}
        for q in questions[:args.queries]:
            for name in single:
                started = time.perf_counter()
                embedders[name].encode([q])
                single[name].append((time.perf_counter() - started) * 1000)
        batch_texts = texts[:args.batch_texts]
        batch = {name: [] for name in embedders}
        for _ in range(args.batch_rounds):
            for name, e in embedders.items():
                started = time.perf_counter()
                e.encode(batch_texts, batch_size=32)
                batch[name].append(len(batch_texts) / (time.perf_counter() - started))

    import onnxruntime
    import sentence_transformers
    import torch
    import transformers

    backends = {}
    for name in embedders:
        figures = {}
        if name in single:
            figures.update(query_ms_p50=statistics.median(single[name]), query_ms_p95=percentile(single[name], 95))
        figures.update(batch_passages_per_s_median=statistics.median(batch[name]),
                       batch_passages_per_s_best=max(batch[name]), batch_runs=batch[name])
        backends[name] = figures
    ratio = {"query_p50_torch_over_onnx": backends["torch"]["query_ms_p50"] / backends["onnx"]["query_ms_p50"],
             "query_p95_torch_over_onnx": backends["torch"]["query_ms_p95"] / backends["onnx"]["query_ms_p95"],
             "batch_onnx_over_torch": backends["onnx"]["batch_passages_per_s_median"]
             / backends["torch"]["batch_passages_per_s_median"]}
    result = {
        "texts": len(texts), "mean_words": statistics.mean(len(t.split()) for t in texts),
        "questions": len(questions), "single_query_rounds": len(single["torch"]),
        "batch_texts": len(batch_texts), "batch_size": 32, "batch_rounds": args.batch_rounds,
        "agreement": agreement, "backends": backends, "ratios": ratio,
        "onnx_export_seconds": export_seconds, "onnx_cached_load_seconds": cached_load_seconds,
        "torch_load_seconds": torch_load_seconds,
        "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg(), "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "versions": {"sentence-transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
                     "torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"cosine to torch, passages min {agreement['passages']['cosine_min']:.8f} mean {agreement['passages']['cosine_mean']:.8f}; "
          f"questions min {agreement['questions']['cosine_min']:.8f} mean {agreement['questions']['cosine_mean']:.8f}")
    print("| backend | one query p50 / p95 ms | batch passages/s (median / best) |")
    print("|---|---|---|")
    for name, f in backends.items():
        query = f"{f['query_ms_p50']:.1f} / {f['query_ms_p95']:.1f}" if "query_ms_p50" in f else "-"
        print(f"| {name} | {query} | {f['batch_passages_per_s_median']:.0f} / {f['batch_passages_per_s_best']:.0f} |")
    print(f"export {export_seconds:.1f} s, cached load {cached_load_seconds:.1f} s, torch load {torch_load_seconds:.1f} s")


if __name__ == "__main__":
    main()
