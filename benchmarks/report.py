"""The figures of a benchmark run as Markdown tables and a plot of ask latency against corpus size."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
# The README quotes the last run's tables between these lines, exactly (tests/test_readme.py checks).
BEGIN, END = "<!-- bench: begin (benchmarks/run.py copies results.md here) -->", "<!-- bench: end -->"


def copy_into_readme(tables: str, readme: Path = README) -> None:
    """The README's performance figures become this run's: one set, never older ones beside them."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(f"{text[:start]}\n{tables.strip()}\n{text[end:]}", encoding="utf-8")


def readme_tables(readme: Path = README) -> str:
    text = readme.read_text(encoding="utf-8")
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip()


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
