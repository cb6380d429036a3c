"""`make bench`: every performance figure of citeqa next to its limit, both measured in the same run.

    .venv/bin/python benchmarks/run.py [--sizes 10000,30000,100000] [--questions 120] [--clients 8]
    .venv/bin/python benchmarks/run.py --approximate-only   # just the IVF/HNSW section, on the cached corpus

Writes benchmarks/results/: results.md (the tables), results.json (every figure), ask_latency.png
(ask latency against corpus size). Corpora, indexes and the real vectors the large sizes reuse are
kept in .citeqa/bench-cache/ (see corpora.py for how the corpora are made). Absolute times on a
shared machine are noisy; the ratios are the figures to read, because each pair of paths takes turns
question by question. Nothing here asserts a time: the figures are reported, not tested.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
from bot import runtime  # noqa: E402

runtime.prepare()  # the process settings of every citeqa entry point (bot/runtime.py)
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

import corpora  # noqa: E402
import report  # noqa: E402
from api_latency import free_port, interleaved, percentile, post_question  # noqa: E402
from retrieval.index.files import versions as store  # noqa: E402
from bot.settings import Settings, make_embedder  # noqa: E402
from retrieval.embed.embedders import SentenceTransformerEmbedder, resolve_model_path  # noqa: E402
from retrieval.engine import Engine, ask  # noqa: E402
from retrieval.errors import CiteqaError  # noqa: E402
from retrieval.evaluate.run import load_questions  # noqa: E402
from retrieval.index.files.refresh import build, refresh  # noqa: E402

CACHE = ROOT / ".citeqa" / "bench-cache"
RESULTS = HERE / "results"
EVAL = ROOT.parent / "shared" / "eval"
ARTICLES_REAL = 1000  # the real-model corpus: 1,000 articles, the refresh figure's "1 of 1,000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000", help="passages of the cached-vector corpora")
    parser.add_argument("--questions", type=int, default=120, help="questions per size (each asked every way)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--articles", type=int, default=ARTICLES_REAL, help="articles of the real-model corpus")
    parser.add_argument("--approximate-only", action="store_true",
                        help="only the approximate-index section (IVF, HNSW) over the largest cached corpus")
    parser.add_argument("--report-only", action="store_true",
                        help="only rewrite results.md and the plot from results.json (and newer onnx.json, stores.json)")
    args = parser.parse_args()
    if args.approximate_only:
        approximate_only(args.questions)
        return
    if args.report_only:
        results = json.loads((RESULTS / "results.json").read_text())
        write_results(results)
        return
    started = time.perf_counter()
    CACHE.mkdir(parents=True, exist_ok=True)
    # The embedder the product runs by default (CITEQA_EMBED_BACKEND), its ONNX export cached in .citeqa/onnx.
    embedder = make_embedder(Settings(_env_file=None, index=ROOT / ".citeqa" / "index"))
    embedder.encode(["warm up the model"] * 8)
    base = corpora.base_articles()
    questions = pick_questions(args.questions)
    results: dict = {"machine": machine(embedder), "questions": len(questions), "sizes": []}

    # 1 + 2: indexing and refresh with the real model on 1,000 real articles.
    folder = corpora.write_folder(CACHE / f"corpus-{args.articles}", base, args.articles)
    index_1k = CACHE / f"index-{args.articles}"
    results["indexing"], results["refresh"] = indexing_and_refresh(embedder, folder, index_1k)
    version = store.load_current(index_1k)
    sigma, cosine = corpora.noise_scale(version, base, version.vectors.shape[1])
    corpora.save_cache(CACHE / "base-vectors.npz", corpora.base_vectors(version, base), base, sigma, cosine)
    results["cached_vectors"] = {"sigma": sigma, "real_variant_cosine": cosine}
    del version

    # 3-6 at each size: the seeds and the 1,000 real articles (real vectors), then the cached-vector sizes.
    seeds_index = CACHE / "index-seeds"
    if not _usable(seeds_index, embedder.name):
        build(ROOT / "seeds", seeds_index, embedder)
    sizes = [("seeds", seeds_index, "real", {}), (f"{args.articles:,} articles", index_1k, "real", {})]
    vectors, sigma, _ = corpora.load_cache(CACHE / "base-vectors.npz", base)
    for wanted in [int(s) for s in args.sizes.split(",") if s]:
        index_dir = CACHE / f"index-{wanted}"
        t = time.perf_counter()
        n_articles, n_passages = corpora.write_cached(index_dir, base, wanted, vectors, sigma, embedder.name)
        sizes.append((f"{n_passages:,} passages", index_dir, "cached", {"write_version_s": time.perf_counter() - t}))
    for n, (label, index_dir, kind, extra) in enumerate(sizes):
        largest = n == len(sizes) - 1
        print(f"[{time.perf_counter() - started:5.0f}s] size {label}", flush=True)
        figures = measure_size(embedder, index_dir, questions, args.clients, profile=largest)
        results["sizes"].append({"label": label, "vectors": kind, **extra, **figures})
        gc.collect()

    results["seconds"] = time.perf_counter() - started
    write_results(results)
    print(f"done in {results['seconds']:.0f} s; wrote {RESULTS}")


def _usable(index_dir: Path, model: str) -> bool:
    """Whether a cached index loads and was embedded by `model` (one of an older format is rebuilt)."""
    try:
        return store.load_current(index_dir).model == model
    except CiteqaError:
        return False


def write_results(results: dict) -> None:
    """results.json, results.md and the plot; the ONNX and two-store figures come from onnx_backend.py's and
    stores.py's own runs."""
    for key, name in (("onnx", "onnx.json"), ("stores", "stores.json")):
        path = RESULTS / name
        results[key] = json.loads(path.read_text()) if path.exists() else None
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "results.md").write_text(report.markdown(results))
    report.copy_into_docs(report.markdown(results))
    report.plot(results, RESULTS / "ask_latency.png")
    print(report.markdown(results))


def machine(embedder=None) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    import faiss
    import sentence_transformers
    import torch

    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem / 2**20, 1), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "sentence_transformers": sentence_transformers.__version__, "faiss": faiss.__version__,
            "load_average": os.getloadavg(),
            "embedder": type(embedder).__name__ if embedder is not None else None}


def pick_questions(n: int) -> list[str]:
    """First turns of the seed questions and a fixed sample of the XQuAD ones (answerable in every corpus)."""
    seeds = [c[0].question for c in load_questions(EVAL / "dev.jsonl")]
    xquad = [c[0].question for c in load_questions(EVAL / "xquad" / "dev.jsonl")]
    random.Random(6).shuffle(xquad)
    return (seeds + xquad)[:n]


def indexing_and_refresh(embedder, folder: Path, index_dir: Path) -> tuple[dict, dict]:
    """`build` against the model's raw `encode` of the same texts; a 1-article refresh against the build."""
    import shutil

    shutil.rmtree(index_dir, ignore_errors=True)
    from retrieval.articles.folder import read_folder
    from retrieval.articles.passages import split_passages
    from retrieval.index.refresh import embedding_text

    articles, _ = read_folder(folder)
    texts = [embedding_text(p) for a in articles for p in split_passages(a)]
    def encode() -> float:
        # The embedder's own batch encode is the model's (torch or ONNX Runtime) with nothing around it.
        t = time.perf_counter()
        embedder.encode(texts, batch_size=32)
        return len(texts) / (time.perf_counter() - t)

    # The limit is measured just before and just after the build, and averaged: load from other work
    # on the machine drifts over minutes.
    before = encode()
    built = build(folder, index_dir, embedder)
    after = encode()
    limit = (before + after) / 2
    indexing = {"articles": built.articles, "passages": built.passages, "mean_words": float(np.mean([len(t.split()) for t in texts])),
                "build_s": built.seconds, "build_passages_per_s": built.passages / built.seconds,
                "encode_passages_per_s": limit, "encode_before_passages_per_s": before, "encode_after_passages_per_s": after,
                "ratio": (built.passages / built.seconds) / limit}

    noop = refresh(folder, index_dir, embedder)
    changed = sorted(folder.iterdir())[len(articles) // 2]
    changed.write_text(changed.read_text(encoding="utf-8").rstrip() + " The figures were corrected on Monday.\n",
                       encoding="utf-8")
    one = refresh(folder, index_dir, embedder)
    refreshed = {"articles": one.articles, "changed": list(one.changed), "embedded": one.embedded,
                 "refresh_s": one.seconds, "nothing_changed_s": noop.seconds, "build_s": built.seconds,
                 "ratio": one.seconds / built.seconds}
    return indexing, refreshed


def hot_swap(engine: Engine, index_dir: Path) -> float:
    """Seconds `engine.reload()` takes to load a newly published version (a copy of the loaded one under a
    new name) and swap it in: the work a server's index watcher does in its own thread while the serving
    threads answer from the old version. The copy is removed and the old version published again after."""
    import datetime
    import shutil

    old = store.current_name(index_dir)
    new = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    shutil.copytree(index_dir / "versions" / old, index_dir / "versions" / new)
    try:
        (index_dir / "CURRENT").write_text(new + "\n", encoding="utf-8")
        t = time.perf_counter()
        assert engine.reload()
        return time.perf_counter() - t
    finally:
        (index_dir / "CURRENT").write_text(old + "\n", encoding="utf-8")
        shutil.rmtree(index_dir / "versions" / new)


def measure_size(embedder, index_dir: Path, questions: list[str], clients: int, profile: bool) -> dict:
    version_dir = index_dir / "versions" / store.current_name(index_dir)
    manifest = json.loads((version_dir / "manifest.json").read_text())
    with tempfile.TemporaryDirectory(prefix="citeqa-bench-") as scratch:
        server = Server(index_dir, Path(scratch))
        try:
            t = time.perf_counter()
            engine = Engine.open(index_dir, embedder)
            load_s = time.perf_counter() - t
            version = engine.index.version
            passages_bytes = sum(len(p.text.encode()) for p in version.passages)
            vectors_bytes = version.vectors.nbytes
            http_inside: list[float] = []
            query_vectors: list[np.ndarray] = []

            def bare(q: str) -> None:  # the floor: embed the query, search FAISS (the depth `search` uses)
                vector = embedder.encode([q])[0]
                version.dense.search(vector, 50)
                query_vectors.append(vector)

            def bare_reader(q: str) -> None:  # the floor with the reader: the same, then its forward passes
                vector = embedder.encode([q])[0]  # over the three best passages whole (`ask` reads less of them)
                rows = [row for row, _ in version.dense.search(vector, 50)[:3]]
                engine.reader.read(q, [version.passages[version.position[row]].text for row in rows])

            def post(q: str) -> None:
                http_inside.append(json.loads(server.post(q))["seconds"])

            def post_httpx(q: str) -> None:
                server.client.post("/v1/ask", json={"question": q}).raise_for_status()

            calls = {"bare": bare, "bare_reader": bare_reader, "ask": lambda q: ask(engine, q), "http": post, "httpx": post_httpx}
            interleaved(calls, questions, min(len(questions), 10))  # warm up: caches, the connection
            http_inside.clear()
            query_vectors.clear()
            seconds = interleaved(calls, questions, len(questions))
            share = questions[:max(clients, 20)]  # each client asks these 20, starting at different ones
            concurrent_http = server.concurrent(share, clients)
            concurrent_local = in_process_concurrent(engine, share, clients)
            abstained = sum(ask(engine, q).abstained for q in questions[:40])
            peak = server.peak_rss()
        finally:
            server.stop()
    swap_s = hot_swap(engine, index_dir)
    figures = {
        "passages": len(version.passages), "articles": len(version.articles), "load_index_s": load_s,
        "hot_swap_s": swap_s,
        "ready_s": server.ready_s, "ready_floor_s": ready_floor(version_dir),
        "server_peak_rss_mb": peak / 2**20, "vectors_mb": vectors_bytes / 2**20, "passages_mb": passages_bytes / 2**20,
        "files_mb": sum(f["bytes"] for f in manifest["files"].values()) / 2**20,
        "abstained_of_40": abstained,
        **{f"{name}_ms_p{q}": percentile(values, q) * 1000 for name, values in seconds.items() for q in (50, 95)},
        "http_inside_ms_p50": percentile(http_inside, 50) * 1000,
        "in_process_1_rps": len(seconds["ask"]) / sum(seconds["ask"]),
        **{f"http_{clients}_{k}": v for k, v in concurrent_http.items()},
        **{f"in_process_{clients}_{k}": v for k, v in concurrent_local.items()},
    }
    figures["ask_over_bare_p50"] = figures["ask_ms_p50"] / figures["bare_ms_p50"]
    figures["ask_over_bare_reader_p50"] = figures["ask_ms_p50"] / figures["bare_reader_ms_p50"]
    figures["reader_ms_p50"] = figures["bare_reader_ms_p50"] - figures["bare_ms_p50"]
    figures["http_adds_ms_p50"] = figures["http_ms_p50"] - figures["ask_ms_p50"]
    # The same question over HTTP and in-process, one right after the other: the median of their
    # differences, and of the request's time outside the route (which only the server's clock sees).
    figures["http_adds_paired_ms_p50"] = percentile([h - a for h, a in zip(seconds["http"], seconds["ask"])], 50) * 1000
    figures["http_outside_route_ms_p50"] = percentile([h - i for h, i in zip(seconds["http"], http_inside)], 50) * 1000
    if profile:
        figures["profile"] = profile_ask(engine, questions)
        figures["json_ms_p50"] = json_ms(engine, questions[:40])
        figures["approximate"] = approximate(version.vectors, np.stack(query_vectors))
    del engine, version
    return figures


class Server:
    """`citeqa serve` over an index on a free loopback port; ready_s is the time from spawn to /readyz 200."""

    def __init__(self, index_dir: Path, scratch: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CITEQA_INDEX": str(index_dir), "CITEQA_CONVERSATIONS": str(scratch / "conversations.sqlite"),
               "CITEQA_RATE_LIMIT_PER_MINUTE": "0", "CITEQA_LOG_LEVEL": "WARNING", "CITEQA_MODEL": "all-MiniLM-L6-v2",
               "CITEQA_RETRIEVER": "hybrid"}
        started = time.perf_counter()
        self.process = subprocess.Popen([str(Path(sys.executable).with_name("citeqa")), "serve", "--port", str(self.port)],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=scratch)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.base + "/readyz", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            self.stop()
            raise SystemExit(f"citeqa serve over {index_dir} did not become ready")
        self.ready_s = time.perf_counter() - started
        self.connection = self.connect()
        self.client = httpx.Client(base_url=self.base, timeout=120, trust_env=False)

    def connect(self) -> http.client.HTTPConnection:
        """A keep-alive connection of the standard library's client: the load generator's own Python
        stays out of the server's figures (httpx spends about 1.5 ms more of its own on each request)."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def post(self, question: str, connection: http.client.HTTPConnection | None = None) -> bytes:
        return post_question(connection or self.connection, question)

    def concurrent(self, questions: list[str], clients: int) -> dict:
        """`clients` keep-alive clients asking at once, every question each."""
        latencies: list[float] = []
        lock = threading.Lock()

        def client(offset: int) -> None:
            connection = self.connect()
            try:
                for i in range(len(questions)):
                    t = time.perf_counter()
                    self.post(questions[(i + offset) % len(questions)], connection)
                    with lock:
                        latencies.append(time.perf_counter() - t)
            finally:
                connection.close()

        return _run_clients(client, clients, latencies)

    def peak_rss(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM"))

    def stop(self) -> None:
        if hasattr(self, "client"):
            self.client.close()
            self.connection.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def in_process_concurrent(engine, questions: list[str], threads: int) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        for i in range(len(questions)):
            t = time.perf_counter()
            ask(engine, questions[(i + offset) % len(questions)])
            with lock:
                latencies.append(time.perf_counter() - t)

    return _run_clients(worker, threads, latencies)


def _run_clients(work, n: int, latencies: list[float]) -> dict:
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        list(pool.map(work, [i * 7 for i in range(n)]))
    wall = time.perf_counter() - t
    return {"ms_p50": percentile(latencies, 50) * 1000, "ms_p95": percentile(latencies, 95) * 1000,
            "rps": len(latencies) / wall}


FLOOR = """
import os, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
import faiss, numpy as np
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu")
model.encode(["warm up"])
np.load(sys.argv[2] + "/vectors.npy"); faiss.read_index(sys.argv[2] + "/index.faiss")
"""


def ready_floor(version_dir: Path) -> float:
    """Seconds for a bare Python process to load the model, embed once, and read the vectors and FAISS index."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR, resolve_model_path("all-MiniLM-L6-v2"), str(version_dir)], check=True)
    return time.perf_counter() - t


PROFILE_GROUPS = (  # (label, file suffix, function); disjoint in the call tree of ask
    ("embed the query", "retrieval/embed/embedders.py", "encode"),
    ("embed the query", "retrieval/embed/onnx_embedder.py", "encode"),
    ("FAISS search", "retrieval/index/files/dense.py", "search"),
    ("BM25 scores (bm25s)", "retrieval/index/bm25.py", "scores"),
    ("sort all BM25 scores (np.argsort)", "numpy/_core/fromnumeric.py", "argsort"),
    ("best-sentence term coverage (search)", "retrieval/index/sentence_table.py", "best_coverage"),
    ("parse the question (Query)", "retrieval/question/query.py", "parse"),
    ("sentence scoring and choice", "retrieval/answer/candidates.py", "score_sentences"),
    ("sentence scoring and choice", "retrieval/answer/candidates.py", "candidate_sentences"),
    ("sentence choice", "retrieval/answer/spans.py", "choose_readings"),
    ("confidence signals", "retrieval/answer/abstention.py", "signals"),
    ("reader: windows and forward pass (ONNX Runtime)", "retrieval/answer/reader.py", "_run"),
    ("reader: span decoding", "retrieval/answer/reader.py", "decode_sentences"),
    ("diversify", "retrieval/search/ranking.py", "diversify"),
)


def profile_ask(engine, questions: list[str]) -> dict:
    """Where `ask` spends its time (pyinstrument, sampling every 1 ms), by stage, as ms per question."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    for q in questions:
        ask(engine, q)
    session = profiler.stop()
    totals: dict[str, float] = {}

    def walk(frame) -> None:
        for label, suffix, function in PROFILE_GROUPS:
            if frame.function == function and (frame.file_path or "").endswith(suffix):
                totals[label] = totals.get(label, 0.0) + frame.time
                return
        for child in frame.children:
            walk(child)

    root = session.root_frame()
    walk(root)
    total = root.time
    (RESULTS / "profile-ask-largest.txt").parent.mkdir(exist_ok=True)
    (RESULTS / "profile-ask-largest.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    groups = {label: 1000 * s / len(questions) for label, s in sorted(totals.items(), key=lambda kv: -kv[1])}
    groups["everything else"] = 1000 * (total - sum(totals.values())) / len(questions)
    return {"ms_per_question": 1000 * total / len(questions), "groups_ms": groups}


def json_ms(engine, questions: list[str]) -> float:
    """What the HTTP response model costs an answer: AskOut.build and its JSON."""
    from bot.api.schemas import AskOut

    answers = [ask(engine, q) for q in questions]
    t = time.perf_counter()
    for answer in answers:
        AskOut.build(answer, "0" * 32, 1, 0.1).model_dump_json()
    return 1000 * (time.perf_counter() - t) / len(answers)


def approximate(vectors: np.ndarray, queries: np.ndarray, k: int = 10, depth: int = 50) -> dict:
    """The approximate FAISS indexes against exact search over the same vectors, one query at a time.

    Each index is searched to `depth` (what `search` asks for). Two recalls: plain (|found ∩ exact
    top-k| / k) and tie-aware (a found row counts if its exact inner product is within 1e-5 of the
    k-th exact score, so a tie broken the other way is not a miss). IVF is retrieval/index/files/dense.py's
    own build (what `dense_index` "ivf"/"auto" publishes); HNSW is there for comparison.
    """
    import faiss

    from bot.settings import Settings
    from retrieval.index import ivf as ivf_rule
    from retrieval.index.files import dense

    faiss.omp_set_num_threads(1)  # queries one at a time, as `ask` makes them
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    truth, exact_s = _one_by_one(exact, queries, depth)
    kth = np.array([float(vectors[t[k - 1]] @ q) for t, q in zip(truth, queries)])

    def measure(index) -> dict:
        found, seconds = _one_by_one(index, queries, depth)
        plain = [len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]
        tie = [float(np.sum(vectors[f[:k][f[:k] >= 0]] @ q >= s - 1e-5)) / k for f, q, s in zip(found, queries, kth)]
        at_depth = [len(set(f) & set(t)) / depth for f, t in zip(found, truth)]
        return {"recall@10": float(np.mean(plain)), "recall@10_ties": float(np.mean(tie)),
                f"recall@{depth}": float(np.mean(at_depth)), "ms": seconds * 1000, "speedup": exact_s / seconds}

    n = len(vectors)
    out = {"vectors": n, "queries": len(queries), "k": k, "depth": depth, "exact_ms": exact_s * 1000,
           "default": {"setting": (default := Settings.model_fields["dense_index"].default),
                       "ivf_from_passages": ivf_rule.AUTO_IVF_PASSAGES, "here": ivf_rule.resolve(default, n)}}
    t = time.perf_counter()
    ivf = dense.DenseIndex.build(vectors, np.arange(n), "ivf")  # trains on every core, then one thread again
    inner = faiss.extract_index_ivf(ivf.index)
    chosen = int(inner.nprobe)
    out["ivf"] = {"lists": int(inner.nlist), "probes": chosen, "build_s": time.perf_counter() - t, "nprobe": {}}
    for nprobe in sorted({4, 8, 16, 32, 64, chosen} & set(range(1, inner.nlist + 1))):
        inner.nprobe = nprobe
        out["ivf"]["nprobe"][nprobe] = measure(ivf.index)
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is batch work: every core
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 64
    t = time.perf_counter()
    hnsw.add(vectors)
    out["hnsw"] = {"M": 32, "efConstruction": 64, "build_s": time.perf_counter() - t, "efSearch": {}}
    faiss.omp_set_num_threads(1)
    for ef in (64, 128, 256, 512):
        hnsw.hnsw.efSearch = ef
        out["hnsw"]["efSearch"][ef] = measure(hnsw)
    return out


def _one_by_one(index, queries: np.ndarray, k: int) -> tuple[list[np.ndarray], float]:
    found, t = [], time.perf_counter()
    for q in queries:
        found.append(index.search(q.reshape(1, -1), k)[1][0])
    return found, (time.perf_counter() - t) / len(queries)


def approximate_only(questions: int) -> None:
    """`run.py --approximate-only`: the approximate-index section alone, over the largest cached corpus.

    Embeds the questions, measures, stores the figures under the largest size in results.json (when
    its passage count matches) and rewrites results.md.
    """
    largest = max(CACHE.glob("index-[0-9]*"), key=lambda p: int(p.name.split("-")[1]), default=None)
    if largest is None or store.current_name(largest) is None:
        raise SystemExit(f"no cached corpus in {CACHE}: run the whole bench once first")
    version = store.load_current(largest)
    queries = SentenceTransformerEmbedder().encode(pick_questions(questions))
    figures = approximate(version.vectors, queries)
    print(json.dumps(figures, indent=1))
    results_json = RESULTS / "results.json"
    if results_json.exists():
        results = json.loads(results_json.read_text())
        size = results["sizes"][-1]
        if size["passages"] == len(version.passages):
            size.pop("hnsw", None)
            size["approximate"] = json.loads(json.dumps(figures))  # int keys as JSON has them
            write_results(results)


if __name__ == "__main__":
    main()
