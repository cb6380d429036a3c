"""The figures of a benchmark run as Markdown tables and a plot; the generated parts of docs/benchmarks.md.

    .venv/bin/python benchmarks/report.py          # rewrite docs/benchmarks.md's generated parts from benchmarks/results/
    .venv/bin/python benchmarks/report.py --eval   # run `make eval`'s commands (and both stores' eval), then rewrite

docs/benchmarks.md holds six generated parts, each between its own marker lines, each the rendering of one
results file and nothing else (tests/test_readme.py checks): `bench` (results.md, written by `make bench`),
`reader-cost` (reader_cost.json, benchmarks/reader_cost.py), `embedder` (onnx_embedder.json,
benchmarks/onnx_embedder.py), `eval` (eval.json, `--eval` here), `web-pages` (web_pages.json,
benchmarks/web_pages.py) and `near-duplicates` (near_duplicates.json, benchmarks/near_duplicates.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
# Each generated part of the page: its marker name and the results file it renders.
PARTS = {"bench": "results.md", "reader-cost": "reader_cost.json", "embedder": "onnx_embedder.json", "eval": "eval.json",
         "web-pages": "web_pages.json", "near-duplicates": "near_duplicates.json",
         "lists": "lists.json"}
# The bench part's marker lines, as the README had them (benchmarks/run.py copies results.md between them).
BEGIN, END = "<!-- bench: begin (benchmarks/run.py copies results.md here) -->", "<!-- bench: end -->"


def markers(part: str) -> tuple[str, str]:
    if part == "bench":
        return BEGIN, END
    return f"<!-- {part}: begin (benchmarks/report.py writes this part) -->", f"<!-- {part}: end -->"


def rendered(part: str, results: Path = RESULTS) -> str | None:
    """What a part of the page must hold: its results file rendered; None when that file does not exist."""
    path = results / PARTS[part]
    if not path.exists():
        return None
    if part == "bench":
        return path.read_text(encoding="utf-8").strip()
    data = json.loads(path.read_text(encoding="utf-8"))
    from lists_report import lists_markdown  # benchmarks/ is on the path: this script's folder

    return {"reader-cost": reader_cost_markdown, "embedder": embedder_markdown, "eval": eval_markdown,
            "web-pages": web_pages_markdown, "near-duplicates": near_duplicates_markdown,
            "lists": lists_markdown}[part](data).strip()


def shown(part: str, page: Path = PAGE) -> str:
    """What a part of the page holds now."""
    text = page.read_text(encoding="utf-8")
    begin, end = markers(part)
    return text[text.index(begin) + len(begin):text.index(end)].strip()


def write_page(page: Path = PAGE, results: Path = RESULTS, bench: str | None = None) -> None:
    """Every generated part of the page becomes its results file's rendering: one set, never older ones beside."""
    text = page.read_text(encoding="utf-8")
    for part in PARTS:
        body = bench.strip() if part == "bench" and bench is not None else rendered(part, results)
        if body is None:
            continue
        begin, end = markers(part)
        start, stop = text.index(begin) + len(begin), text.index(end)
        text = f"{text[:start]}\n{body}\n{text[stop:]}"
    page.write_text(text, encoding="utf-8")


def copy_into_docs(tables: str, page: Path = PAGE) -> None:
    """`make bench`'s tables into docs/benchmarks.md, with the page's other generated parts rewritten from their
    results files at the same time."""
    write_page(page, RESULTS, bench=tables)




def markdown(r: dict) -> str:
    m, ix, rf = r["machine"], r["indexing"], r["refresh"]
    sizes = r["sizes"]
    clients = next((k.split("_")[1] for k in sizes[0] if k.startswith("http_") and k.endswith("_rps")), "8")
    out = [
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM; Python {m['python']}, torch {m['torch']} "
        f"({m['torch_threads']} threads), sentence-transformers {m['sentence_transformers']}, faiss {m['faiss']}; "
        f"embedder {m.get('embedder') or 'SentenceTransformerEmbedder'} (the model on "
        f"{'ONNX Runtime' if m.get('embedder') == 'OnnxEmbedder' else 'torch'}); "
        f"load average at the start {m['load_average'][0]:.2f} (the machine is shared). {r['questions']} questions per "
        f"size, each asked every way in turn; whole run {r['seconds'] / 60:.1f} min.",
        "",
        "| figure | measured | limit, same run | ratio | target |",
        "|---|---|---|---|---|",
        f"| `build` of {ix['articles']:,} articles ({ix['passages']:,} passages, {ix['mean_words']:.0f} words each), real model "
        f"| {ix['build_passages_per_s']:.1f} passages/s | raw `encode` of the same texts: {ix['encode_passages_per_s']:.1f} passages/s "
        f"| {ix['ratio']:.2f}× | ≥ 0.9× |",
        f"| refresh after changing 1 article of {rf['articles']:,} ({rf['embedded']} passage(s) embedded) "
        f"| {rf['refresh_s']:.2f} s | full build: {rf['build_s']:.1f} s | {100 * rf['ratio']:.1f} % | ≤ 5 % |",
        "",
        f"(Raw `encode` just before the build {ix['encode_before_passages_per_s']:.1f} passages/s, just after "
        f"{ix['encode_after_passages_per_s']:.1f}; the limit is their mean. A refresh when nothing changed: "
        f"{rf['nothing_changed_s']:.2f} s.)",
        "",
        "`ask` in-process (default hybrid retrieval, top 3) against the bare minimum: embed the query and search FAISS (top 50).",
        "",
        "| corpus | passages | vectors | ask p50 / p95 ms | embed + FAISS p50 / p95 ms | ask ÷ minimum (p50) |",
        "|---|---|---|---|---|---|",
    ]
    for s in sizes:
        out.append(f"| {s['label']} | {s['passages']:,} | {s['vectors']} | {s['ask_ms_p50']:.1f} / {s['ask_ms_p95']:.1f} "
                   f"| {s['bare_ms_p50']:.1f} / {s['bare_ms_p95']:.1f} | {s['ask_over_bare_p50']:.2f}× |")
    out += [
        "",
        "`POST /v1/ask` over loopback (`citeqa serve`, each request a new conversation) against `ask` in-process. "
        "Target: HTTP adds ≤ 5 ms at p50. The clients are the standard library's http.client on keep-alive "
        "connections; httpx, for comparison, spends about 1.5 ms more of its own Python on each request. \"HTTP adds\" "
        "is HTTP's p50 less in-process p50; \"paired\" is the median difference of the same question asked both ways one "
        "after the other; \"outside the route\" is the request's time less the route's own (uvicorn, middleware, "
        "validation, the threadpool, loopback and the client).",
        "",
        f"| corpus | HTTP, 1 client p50 / p95 ms | inside the route p50 ms | HTTP adds (p50) | paired | outside the route "
        f"| httpx client p50 ms | HTTP, 1 client req/s | in-process req/s "
        f"| HTTP, {clients} clients p50 / p95 ms | HTTP, {clients} clients req/s | in-process, {clients} threads req/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        h, p = f"http_{clients}_", f"in_process_{clients}_"
        out.append(f"| {s['label']} | {s['http_ms_p50']:.1f} / {s['http_ms_p95']:.1f} | {s['http_inside_ms_p50']:.1f} | {s['http_adds_ms_p50']:+.1f} ms "
                   f"| {s['http_adds_paired_ms_p50']:+.1f} ms | {s['http_outside_route_ms_p50']:.1f} ms | {s['httpx_ms_p50']:.1f} "
                   f"| {1000 / s['http_ms_p50']:.1f} | {s['in_process_1_rps']:.1f} | {s[h + 'ms_p50']:.0f} / {s[h + 'ms_p95']:.0f} "
                   f"| {s[h + 'rps']:.1f} | {s[p + 'rps']:.1f} |")
    baseline = sizes[0]["server_peak_rss_mb"]
    out += [
        "",
        "The server: peak memory (VmHWM, after every question above) against the vectors (float32) plus the passages' text, "
        "and the time from `citeqa serve` to `/readyz` 200 against a bare process that loads the model, embeds once and "
        "reads vectors.npy and index.faiss; and how long a hot swap takes (`engine.reload()` of a newly published "
        "version, in the index watcher's thread, while the old one serves).",
        "",
        "| corpus | peak RSS MB | over the seeds server MB | vectors + passages MB | over ÷ data | files on disk MB "
        "| serve → ready s | bare load s | index load in-process s | hot swap s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        data = s["vectors_mb"] + s["passages_mb"]
        over = s["server_peak_rss_mb"] - baseline
        out.append(f"| {s['label']} | {s['server_peak_rss_mb']:.0f} | {over:.0f} | {s['vectors_mb']:.1f} + {s['passages_mb']:.1f} "
                   f"= {data:.1f} | {over / data:.1f}× | {s['files_mb']:.1f} | {s['ready_s']:.1f} | {s['ready_floor_s']:.1f} "
                   f"| {s['load_index_s']:.1f} | {s.get('hot_swap_s', float('nan')):.1f} |")
    largest = sizes[-1]
    if "profile" in largest:
        prof = largest["profile"]
        total = prof["ms_per_question"]
        out += ["", f"Where `ask` spends its time at {largest['passages']:,} passages (pyinstrument, 1 ms samples, "
                    f"{total:.1f} ms a question under the profiler); the response model and its JSON cost "
                    f"{largest['json_ms_p50']:.2f} ms more over HTTP.", "",
                "| stage | ms per question | share |", "|---|---|---|"]
        for label, ms in prof["groups_ms"].items():
            out.append(f"| {label} | {ms:.1f} | {100 * ms / total:.0f} % |")
    if "approximate" in largest:
        a = largest["approximate"]
        d, ivf, hnsw = a["default"], a["ivf"], a["hnsw"]
        out += ["", f"Approximate dense search over the {a['vectors']:,} vectors, {a['queries']} real question vectors, one "
                    f"thread, depth {a['depth']} (what `search` asks for); exact search {a['exact_ms']:.2f} ms a query. "
                    f"Recall@10 against exact: plain is the overlap of the two top 10s; tie-aware counts a row whose exact "
                    f"score is within 1e-5 of the 10th. **Default: `CITEQA_DENSE_INDEX={d['setting']}`** ({d['here']} at this size); "
                    f"`auto` is exact below {d['ivf_from_passages']:,} passages and IVF from there; `ivf` here has "
                    f"{ivf['lists']} lists probing {ivf['probes']}, trained in {ivf['build_s']:.1f} s. The default stays exact "
                    f"because this corpus's recall flatters IVF (its clusters of near-copies fall into whole lists) and "
                    f"real vectors are harder (see retrieval/index/files/dense.py).", "",
                f"| index | recall@10 plain / tie-aware | recall@{a['depth']} | ms a query | speed-up |", "|---|---|---|---|---|"]
        rows = [(f"IVF nprobe {p}" + (" (`ivf`'s setting)" if int(p) == ivf["probes"] else ""), e) for p, e in ivf["nprobe"].items()]
        rows += [(f"HNSW M {hnsw['M']} efSearch {ef}", e) for ef, e in hnsw["efSearch"].items()]
        for label, e in rows:
            out.append(f"| {label} | {e['recall@10']:.3f} / {e['recall@10_ties']:.3f} | {e['recall@' + str(a['depth'])]:.3f} "
                       f"| {e['ms']:.2f} | {e['speedup']:.1f}× |")
        out += ["", f"HNSW (efConstruction {hnsw['efConstruction']}, built in {hnsw['build_s']:.0f} s) is not offered: "
                    "this corpus is a few hundred clusters of near-copies (a base passage's variants), the exact top 10 is "
                    "ten copies of one passage ordered by their noise, and a graph walk finds the cluster but not its "
                    "best ten; exact ties are not the cause (tie-aware recall equals plain). IVF scans whole lists, so "
                    "it keeps a cluster together."]
    onnx = r.get("onnx")
    if onnx:
        out += ["", f"sentence-transformers backends (`benchmarks/onnx_backend.py`, a separate venv with sentence-transformers "
                    f"{onnx['versions']['sentence-transformers']}, onnxruntime {onnx['versions']['onnxruntime']}; "
                    f"{onnx['texts']} passages, {onnx['questions']} XQuAD questions):", "",
                "| backend | one query p50 / p95 ms | batch of 32: passages/s | cosine to torch min / mean | dense hit@1 / hit@3 |",
                "|---|---|---|---|---|"]
        for name, f in onnx["backends"].items():
            out.append(f"| {name} | {f['query_ms_p50']:.1f} / {f['query_ms_p95']:.1f} | {f['batch_passages_per_s']:.0f} "
                       f"| {f['cosine_to_torch_min']:.4f} / {f['cosine_to_torch_mean']:.4f} "
                       f"| {f['dense_hit@1']:.3f} / {f['dense_hit@3']:.3f} |")
    stores = r.get("stores")
    if stores:
        out += ["", f"Both stores (`benchmarks/stores.py`): the same corpus and vectors built into files-and-FAISS and into "
                    f"Milvus (milvus-lite, in process), each by its own refresh; {stores['questions']} questions asked in "
                    f"turns. *bare* is the floor: embed the question and one FAISS search. Refresh *nothing* finds no "
                    f"change; *one* is one article changed (its passages embedded by the real model).", "",
                "| passages | articles | ask p50 ms: bare / files / milvus | milvus / files | build s: files / milvus "
                "| refresh nothing s: files / milvus | refresh one s: files / milvus | same citations | disk MB: files / milvus |",
                "|---|---|---|---|---|---|---|---|---|"]
        for f in stores["sizes"]:
            out.append(f"| {f['passages']:,} | {f['articles']:,} | {f['bare_ms_p50']:.1f} / {f['files_ms_p50']:.1f} / "
                       f"{f['milvus_ms_p50']:.1f} | {f['milvus_ms_p50'] / f['files_ms_p50']:.1f}× "
                       f"| {f['files_build_s']:.1f} / {f['milvus_build_s']:.1f} "
                       f"| {f['files_refresh_nothing_s']:.2f} / {f['milvus_refresh_nothing_s']:.2f} "
                       f"| {f['files_refresh_one_s']:.2f} / {f['milvus_refresh_one_s']:.2f} "
                       f"| {f['same_citations']} of {stores['questions']} "
                       f"| {f['files_disk_mb']:.0f} / {f['milvus_disk_mb']:.0f} |")
    cached = [s["label"] for s in sizes if s["vectors"] == "cached"]
    if cached:
        out += ["", f"Cached vectors (real base-passage vectors plus noise giving the cosine of {r['cached_vectors']['real_variant_cosine']:.3f} "
                    f"that real variants have): {', '.join(cached)}. Their latency, memory and load figures are real; "
                    f"their retrieval quality and approximate-search recall are not representative."]
    return "\n".join(out) + "\n"


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = r["sizes"]
    x = [s["passages"] for s in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, label, style in (("ask_ms_p50", "ask p50", "o-"), ("ask_ms_p95", "ask p95", "o--"),
                              ("http_ms_p50", "POST /v1/ask p50", "s-"), ("bare_ms_p50", "embed + FAISS p50 (minimum)", "^-"),
                              ("bare_ms_p95", "embed + FAISS p95", "^--")):
        ax.plot(x, [s[key] for s in sizes], style, label=label)
    for s in sizes:
        if s["vectors"] == "cached":
            ax.axvspan(s["passages"] * 0.97, s["passages"] * 1.03, color="0.9")
    ax.set_xscale("log")
    ax.set_xlabel("passages in the index (grey: cached vectors)")
    ax.set_ylabel("ms per question")
    ax.set_ylim(bottom=0)
    ax.set_title(f"citeqa ask latency, {r['machine']['nproc']} CPUs ({r['machine']['cpu']})", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def reader_cost_markdown(c: dict) -> str:
    """benchmarks/reader_cost.py's figures: what the reader costs a question next to its floors, in one run."""
    return "\n".join([
        f"`benchmarks/reader_cost.py` over the XQuAD corpus ({c['passages']} passages, {c['questions']} questions; the "
        "paths take turns on each question, so they share the machine's load). The floor is embedding the question and "
        "one FAISS search; `ask` reads the best-scored sentences, each with the one before it, one window at a time.",
        "",
        "| path | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| `ask`, the whole answer path | {c['ask_ms_p50']:.1f} | {c['ask_ms_p95']:.1f} |",
        f"| the reader's forward passes inside `ask` | {c['ask_forward_ms_p50']:.1f} | {c['ask_forward_ms_p95']:.1f} |",
        f"| the floor: embed the question + FAISS | {c['bare_ms_p50']:.1f} | {c['bare_ms_p95']:.1f} |",
        f"| the floor + the reader over the three best passages whole | {c['bare_reader_ms_p50']:.1f} "
        f"| {c['bare_reader_ms_p95']:.1f} |",
        "",
        "| figure | value |",
        "|---|---|",
        f"| `ask` ÷ (the floor + its own forward passes), p50 | {c['ask_over_bare_plus_its_forward_p50']:.2f}× |",
        f"| `ask` ÷ the floor, p50 | {c['ask_over_bare_p50']:.2f}× |",
        f"| `ask` ÷ (the floor + the three best passages read whole), p50 | {c['ask_over_bare_reader_p50']:.2f}× |",
        f"| the reader over the three best passages whole (the two floors' difference), p50 | {c['reader_ms_p50']:.1f} ms |",
        f"| the reader's weights (int8 ONNX) | {c['reader_file_mb']:.1f} MB |",
        f"| the process's peak memory before / with the engine loaded | {c['peak_rss_mb_before_engine']:.0f} / "
        f"{c['peak_rss_mb_with_engine']:.0f} MB |",
    ]) + "\n" + (issue_34_markdown(c) if "floor_ms_p50" in c else "")


def issue_34_markdown(c: dict) -> str:
    """Issue 34's comparison, from the same run: POST /v1/ask over loopback against embed + exact FAISS + one
    reader forward pass over the question and its gold sentence with the one before it."""
    return "\n".join([
        "",
        f"Issue 34's floor, in the same run (`{c['command']}`, {c['cpus']} CPUs, load average {c['load_average_at_end']:.2f} "
        "at the end): embed the question, an exact FAISS search (IndexFlatIP over the version's vectors) and one "
        "forward pass of the reader over the question and the gold sentence (the article's sentence holding the "
        "question's evidence) with the sentence before it "
        f"(more than one window: {c['floor_more_than_one_window']} and {c['coqa_floor_more_than_one_window']} of them). "
        "`POST /v1/ask` goes to `citeqa serve` on loopback over the same index (http.client, keep-alive). The CoQA "
        f"rows are {c['coqa_followups']} follow-ups of {c['coqa_conversations']} CoQA CNN conversations "
        "(`../shared/convqa/coqa-cnn-dev`), each asked in its conversation with its story as `article_ids` after the "
        "conversation's untimed first turn; their floor reads the follow-up as asked. Target: ≤ 2.5× at p50.",
        "",
        "| questions | `POST /v1/ask` p50 / p95 ms | floor p50 / p95 ms | `POST /v1/ask` ÷ floor, p50 |",
        "|---|---|---|---|",
        f"| XQuAD, first turns ({c['questions']}) | {c['http_ask_ms_p50']:.1f} / {c['http_ask_ms_p95']:.1f} "
        f"| {c['floor_ms_p50']:.1f} / {c['floor_ms_p95']:.1f} | {c['http_ask_over_floor_p50']:.2f}× |",
        f"| CoQA CNN, follow-ups ({c['coqa_followups']}) | {c['coqa_http_ask_ms_p50']:.1f} / "
        f"{c['coqa_http_ask_ms_p95']:.1f} | {c['coqa_floor_ms_p50']:.1f} / {c['coqa_floor_ms_p95']:.1f} "
        f"| {c['coqa_http_ask_over_floor_p50']:.2f}× |",
    ]) + "\n"


def embedder_markdown(o: dict) -> str:
    """benchmarks/onnx_embedder.py's figures: citeqa's ONNX Runtime embedder against its torch one."""
    v, a = o["versions"], o["agreement"]
    out = [
        f"`benchmarks/onnx_embedder.py`: citeqa's `OnnxEmbedder` (the default, `CITEQA_EMBED_BACKEND=onnx`) against its "
        f"torch embedder, in the project's venv ({o['cpus']} CPUs; Python {o['python']}, torch {v['torch']}, "
        f"onnxruntime {v['onnxruntime']}, sentence-transformers {v['sentence-transformers']}; the backends take turns). "
        f"One query: {o['single_query_rounds']} rounds; batches: {o['batch_texts']} passages in batches of "
        f"{o['batch_size']}, {o['batch_rounds']} rounds.",
        "",
        "| backend | one query p50 / p95 ms | batch passages/s, median / best |",
        "|---|---|---|",
    ]
    for name, b in o["backends"].items():
        query = f"{b['query_ms_p50']:.1f} / {b['query_ms_p95']:.1f}" if "query_ms_p50" in b else "—"
        out.append(f"| {name} | {query} | {b['batch_passages_per_s_median']:.1f} / {b['batch_passages_per_s_best']:.1f} |")
    out += [
        "",
        f"The two give the same vectors: cosine to torch at least {a['passages']['cosine_min']:.8f} over "
        f"{a['passages']['n']} passages and {a['questions']['cosine_min']:.8f} over {a['questions']['n']} questions. "
        f"The export runs once ({o['onnx_export_seconds']:.1f} s here) and is cached; loading the cached model took "
        f"{o['onnx_cached_load_seconds']:.1f} s, the torch model {o['torch_load_seconds']:.1f} s. Load average at the "
        f"end of the run: {o['load_average_at_end'][0]:.2f} (the machine is shared).",
    ]
    return "\n".join(out) + "\n"


# ---- `make eval`'s figures -----------------------------------------------------------------------------------

FIGURES = ("hit@1", "hit@3", "mrr@10", "answer_hit", "span_exact", "span_f1", "span_exact_all", "span_f1_all",
           "false_abstain", "abstain_rate", "followup_hit@3", "followup_answer_hit", "followup_false_abstain",
           "ask_p50_ms", "ask_p95_ms", "questions")
STORE_FIGURES = ("hit@1", "hit@3", "mrr@10", "answer_hit", "false_abstain", "abstain_rate", "span_f1", "span_f1_all",
                 "ask_p50_ms", "questions")
# Both stores on the reporting parts (hybrid, the default retriever): the seeds through the published index of
# each store, XQuAD through a scratch index of each store's kind (`citeqa eval --corpus` builds one).
STORE_RUNS = (("seeds dev", ["eval", "--part", "reporting", "--questions", "../shared/eval/dev.jsonl"]),
              ("XQuAD dev", ["eval", "--part", "reporting", "--corpus", "../shared/eval/xquad/corpus",
                             "--questions", "../shared/eval/xquad/dev.jsonl"]))


def make_eval_commands(makefile: Path = ROOT / "Makefile") -> list[list[str]]:
    """The `citeqa eval` commands of the Makefile's `eval` target, in order: one list of them, the Makefile's."""
    lines = makefile.read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("eval:"))
    commands = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        line = line.strip()
        if line and not line.startswith("#"):
            commands.append(shlex.split(line.replace("$(BIN)/", "")))
    return commands


def _citeqa(args: list[str], env: dict[str, str]) -> dict:
    citeqa = str(Path(sys.executable).parent / "citeqa")
    done = subprocess.run([citeqa, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"citeqa {shlex.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout) if "--json" in args else {}


def _by_retriever(args: list[str], out: dict) -> dict:
    # One retriever prints its figures; several print {retriever: figures}.
    if "questions" in out:
        name = args[args.index("--retriever") + 1] if "--retriever" in args else "hybrid"
        return {name: out}
    return out


def _git(*args: str) -> str:
    """A read-only git query (which commit the figures are of); empty outside a checkout."""
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def run_eval(out: Path = RESULTS / "eval.json") -> dict:
    """Run `make eval`'s commands with --json (the seeds index built first, as `make run` would have), then the
    reporting parts on both stores; write every figure to `out`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CITEQA_CORPUS="seeds",
               # Beside .citeqa/index, so the ONNX export cached in .citeqa/onnx is shared with it.
               CITEQA_INDEX=str(ROOT / ".citeqa" / "eval-index"))
    results: dict = {"commit": _git("rev-parse", "--short", "HEAD"),
                     "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
                     "cpus": os.cpu_count(), "runs": [], "stores": []}
    _citeqa(["index"], env)
    for command in make_eval_commands():
        args = command[1:] + ["--json"]
        print(shlex.join(command), flush=True)
        results["runs"].append({"command": shlex.join(command), "figures": _by_retriever(args, _citeqa(args, env))})
    with tempfile.TemporaryDirectory(prefix="citeqa-eval-stores-") as scratch:
        milvus = {**env, "CITEQA_STORE_URI": str(Path(scratch) / "seeds.db")}
        _citeqa(["index"], milvus)
        for label, args in STORE_RUNS:
            print(f"{label}: both stores", flush=True)
            results["stores"].append({"set": label, "command": shlex.join(["citeqa", *args]),
                                      "files": _citeqa(args + ["--json"], env),
                                      "milvus-lite": _citeqa(args + ["--json"], milvus)})
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


def _answerable(figures: dict[str, dict]) -> bool:
    return any("false_abstain" in f for f in figures.values())


def _option(command: str, name: str, default: str = "") -> str:
    words = shlex.split(command)
    return words[words.index(name) + 1] if name in words else default


def eval_markdown(e: dict) -> str:
    """eval.json as tables: one per run with answerable questions (figures by retriever), one for the runs of
    questions the articles do not answer, one for both stores."""
    state = " with uncommitted changes" if e["uncommitted_changes"] else ""
    out = [f"`make eval`'s commands, each run with `--json` by `benchmarks/report.py --eval`, at commit "
           f"{e['commit']}{state}; {e['cpus']} CPUs, the default ONNX embedder. Times are p50 / p95 of one `ask`, in ms."]
    for run in e["runs"]:
        figures = run["figures"]
        if not _answerable(figures):
            continue
        names = list(figures)
        out += ["", f"    {run['command']}", "",
                f"| figure | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
        out += [f"| {f} | " + " | ".join(str(figures[n].get(f, "")) for n in names) + " |"
                for f in FIGURES if any(f in figures[n] for n in names)]
    refusals = [run for run in e["runs"] if not _answerable(run["figures"])]
    if refusals:
        out += ["", "Questions the articles do not answer (files of `abstain` questions only; *refused* is `abstain_rate`, "
                    "hybrid retrieval):", "",
                "| questions | corpus | part | questions | refused |", "|---|---|---|---|---|"]
        for run in refusals:
            f = next(iter(run["figures"].values()))
            corpus = _option(run["command"], "--corpus")
            corpus = f"`{corpus}`" if corpus else "the seeds (the published index)"
            out.append(f"| `{_option(run['command'], '--questions')}` | {corpus} | {_option(run['command'], '--part', 'all')} "
                       f"| {f['questions']} | {f['abstain_rate']} |")
    if e.get("stores"):
        out += ["", "Both stores on the reporting parts (hybrid retrieval), each index built from scratch with the real "
                    "model; Milvus is milvus-lite, in process:", "",
                "| set (reporting part) | store | " + " | ".join(STORE_FIGURES) + " |",
                "|---|---|" + "---|" * len(STORE_FIGURES)]
        for s in e["stores"]:
            for store in ("files", "milvus-lite"):
                out.append(f"| {s['set']} | {store} | " + " | ".join(str(s[store].get(f, "—")) for f in STORE_FIGURES)
                           + " |")
    return "\n".join(out) + "\n"


def web_pages_markdown(w: dict) -> str:
    """web_pages.json: extraction quality per page and in all, then what reading a page costs at indexing time."""
    out = [f"`{w['command']}` on the five saved pages of `../shared/pages` (trafilatura {w['trafilatura']}, "
           f"{w['cpus']} CPUs, Python {w['python']}; times are medians of {w['rounds']} rounds; load average "
           f"{w['load_average']} at the end, the machine is shared). *Kept*: the article's sentences found in the text "
           "read; *dropped*: the furniture's lines not in it.", "",
           "| page | sentences | kept (citeqa) | furniture lines | dropped (citeqa) | dropped (whole text, line filter) "
           "| read .html ms | read .txt ms |", "|---|---|---|---|---|---|---|---|"]
    for p in w["pages"]:
        c, b = p["citeqa"], p["whole_text_filtered"]
        out.append(f"| {p['page']} | {c['sentences']} | {c['kept']} ({c['kept_share']:.3f}) | {c['boilerplate_lines']} "
                   f"| {c['boilerplate_lines'] - c['left_in']} ({c['dropped_share']:.3f}) | {b['dropped_share']:.3f} "
                   f"| {p['read_html_ms']:.1f} | {p['read_txt_ms']:.2f} |")
    c, b = w["citeqa"], w["whole_text_filtered"]
    out.append(f"| **all** | {c['sentences']} | {c['kept']} ({c['kept_share']:.3f}) | {c['boilerplate_lines']} | "
               f"{c['boilerplate_lines'] - c['left_in']} ({c['dropped_share']:.3f}) | {b['dropped_share']:.3f} | "
               f"{statistics.mean(p['read_html_ms'] for p in w['pages']):.1f} | "
               f"{statistics.mean(p['read_txt_ms'] for p in w['pages']):.2f} |")
    h, t = w["build"]["html"], w["build"]["txt"]
    out += ["", "| folder (the same five articles) | passages | index build s (hashing embedder) | passages/s |",
            "|---|---|---|---|",
            f"| saved pages (.html, extracted at each build) | {h['passages']} | {h['seconds']:.3f} | "
            f"{h['passages'] / h['seconds']:.0f} |",
            f"| article files (.txt, as the collector writes them) | {t['passages']} | {t['seconds']:.3f} | "
            f"{t['passages'] / t['seconds']:.0f} |"]
    return "\n".join(out) + "\n"


def near_duplicates_markdown(d: dict) -> str:
    """near_duplicates.json: each method at its best threshold, the one chosen, and recall by kind of copy."""
    c = d["chosen"]
    out = [f"`{d['command']}`: {d['texts']} texts, {d['pairs']:,} pairs, {d['copies']:,} of them copies; a signature "
           f"costs {d['signature_ms']:.2f} ms a text. **Chosen: {c['method']} ≥ {c['threshold']}: precision "
           f"{c['precision']:.3f}, recall {c['recall']:.3f}** (F1 {c['f1']:.3f}).", "",
           "| method, at its best threshold | threshold | precision | recall | F1 |", "|---|---|---|---|---|"]
    out += [f"| {name} | {b['threshold']:.2f} | {b['precision']:.3f} | {b['recall']:.3f} | {b['f1']:.3f} |"
            for name, b in d["best"].items()]
    out += ["", "| kind of copy (against its base, at the chosen threshold) | found | median score |", "|---|---|---|"]
    out += [f"| {k['kind']}{' (not a copy: flagged)' if k['kind'] == 'quoting follow-up' else ''} | {k['found']} of "
            f"{k['of']} | {k['median']:.2f} |" for k in d["by_kind"]]
    out += ["", f"Distinct articles on one topic ({d['same_topic_pairs']} pairs: one XQuAD article's paragraphs, the "
                f"seeds): highest containment {d['same_topic_highest']:.2f}."]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", action="store_true", help="run make eval's commands and both stores' eval first")
    args = parser.parse_args()
    if args.eval:
        run_eval()
    write_page()
    print(f"rewrote the generated parts of {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
