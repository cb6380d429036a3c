"""A server's memory after questions, split into anonymous and file-backed pages, against a seeds server.

    .venv/bin/python benchmarks/served_memory.py .citeqa/bench-cache/index-seeds .citeqa/bench-cache/index-100000

Starts `citeqa serve` over each index in turn, asks 120 XQuAD first turns three times from 8 clients and
60 more from one, then reads VmHWM, RssAnon and RssFile from /proc/<pid>/status. `make bench` reports the
peak over its own, longer mix of questions; this one says what kind of memory the difference is.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from api_latency import free_port  # noqa: E402

from retrieval.evaluate.run import load_questions  # noqa: E402

FIELDS = ("VmHWM", "VmRSS", "RssAnon", "RssFile")


def status(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in FIELDS:
            found[key] = int(value.split()[0]) // 1024
    return found


def served(index: Path, questions: list[str]) -> tuple[dict, dict]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="citeqa-memory-") as scratch:
        env = {**os.environ, "CITEQA_INDEX": str(index.resolve()), "CITEQA_PORT": str(port), "NO_PROXY": "127.0.0.1",
               "CITEQA_RATE_LIMIT_PER_MINUTE": "0", "CITEQA_CONVERSATIONS": str(Path(scratch) / "c.sqlite")}
        process = subprocess.Popen([str(Path(sys.executable).with_name("citeqa")), "serve"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=scratch)
        try:
            for _ in range(600):
                time.sleep(0.5)
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    connection.request("GET", "/readyz")
                    if connection.getresponse().status == 200:
                        break
                except OSError:
                    pass

            def ask(question: str) -> None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                connection.request("POST", "/v1/ask", json.dumps({"question": question}),
                                   {"content-type": "application/json"})
                connection.getresponse().read()

            ready = status(process.pid)
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(ask, questions * 3))
            for question in questions[:60]:
                ask(question)
            return ready, status(process.pid)
        finally:
            process.terminate()
            process.wait()


def main() -> None:
    questions = [c[0].question for c in load_questions(ROOT.parent / "shared" / "eval" / "xquad" / "dev.jsonl")][:120]
    rows = [(Path(index).name, *served(Path(index), questions)) for index in sys.argv[1:]]
    print("| index | at ready: " + " / ".join(FIELDS) + " MB | after questions: " + " / ".join(FIELDS) + " MB |")
    print("|---|---|---|")
    for name, ready, after in rows:
        print(f"| {name} | {' / '.join(str(ready[f]) for f in FIELDS)} | {' / '.join(str(after[f]) for f in FIELDS)} |")


if __name__ == "__main__":
    main()
