"""What each part of a loaded index version costs in memory: a load done step by step, VmRSS after each.

    .venv/bin/python benchmarks/version_memory.py .citeqa/bench-cache/index-100000

The steps are those of retrieval.index.files.versions.load_version, in its order. Read with `make bench`'s server
figure: the server's peak over this process's is what questions add (threads, touched pages of the
memory-mapped arrays).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bot import runtime  # noqa: E402

runtime.prepare()  # the process settings of every citeqa entry point (bot/runtime.py)

import bm25s  # noqa: E402, F401  (imported first: the steps below measure data, not code)
import faiss  # noqa: E402, F401
import numpy as np  # noqa: E402

from retrieval.index.files import tables as shelf  # noqa: E402
from retrieval.index.files import versions as store  # noqa: E402
from retrieval.index.files.dense import DenseIndex  # noqa: E402
from retrieval.index.files.snapshot import FileSnapshot  # noqa: E402
from retrieval.index.files.text_index import TextIndex  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    index_dir = Path(sys.argv[1])
    path = index_dir / "versions" / store.current_name(index_dir)
    gc.collect()
    steps, last, started = [], rss_mb(), time.perf_counter()

    def step(label: str) -> None:
        nonlocal last
        now = rss_mb()
        steps.append((label, now - last))
        last = now

    manifest = json.loads((path / "manifest.json").read_text())
    step("manifest")
    articles = shelf.ArticleShelf(path)
    step("article headings and ids")
    passages = shelf.PassageTable(path, articles)
    step("passages (a table; texts mapped)")
    np.load(path / "vectors.npy", mmap_mode="r")
    dense = DenseIndex.load(path / "index.faiss")
    step("FAISS index (its own copy of the vectors)")
    text = TextIndex.load(path)
    step("text index (vocabulary, names; arrays mapped)")
    text.disagreements(passages.lengths(), manifest["text"])
    step("checks of the mapped arrays")
    version = store.IndexVersion(path.name, manifest, articles, passages, None, dense, text)
    FileSnapshot(version)
    step("position tables, speller")
    text_mb = sum(len(p.text.encode()) for p in passages) / 2**20
    vectors_mb = (path / "vectors.npy").stat().st_size / 2**20
    total = sum(mb for _, mb in steps)
    print(f"{len(passages):,} passages, {len(articles):,} articles; loaded in {time.perf_counter() - started:.1f} s")
    print("| part | MB |\n|---|---|")
    for label, mb in steps:
        print(f"| {label} | {mb:.0f} |")
    print(f"| all | {total:.0f} = {total / (vectors_mb + text_mb):.2f}x vectors ({vectors_mb:.0f} MB) + text ({text_mb:.0f} MB) |")


if __name__ == "__main__":
    main()
