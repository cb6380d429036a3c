"""The README's short tour, run for real: every command it shows and the output it printed.

    .venv/bin/python tests/readme_tour.py          # run the tour and rewrite the README's tour in place
    .venv/bin/python tests/readme_tour.py --check  # run it and say whether the README still shows it

The commands run on a copy of seeds/ in a temporary folder (the index in .citeqa/tour/), with the
installed `citeqa` and the real model; `tests/test_readme_tour.py` runs the same and compares. What differs from run to run (timings,
version names, conversation ids) is compared as a placeholder, everything else character for character.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import free_port  # one definition for the tests and the tour

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN, END = "<!-- tour: begin (tests/readme_tour.py writes this part) -->", "<!-- tour: end -->"
CITEQA = str(Path(sys.executable).with_name("citeqa"))
ASK = "Who attended the Beijing WIPO meeting?"
HTTP_QUESTION = "Who presided over the special meeting on IP protection?"
SET_ASK = "Which parks make up the Three Parks and One Area?"  # a set question (issue 35)
ROLE_ASK = "Who is Wang Binying?"
SHOWN_PORT = 8000  # what the README's commands say; the run itself takes a free port

# What changes from one run to the next, and what it is compared as.
VOLATILE = [
    (re.compile(r"\b\d{8}T\d{6,}Z[\w-]*"), "<version>"),
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<seconds> s"),
    (re.compile(r"\b\d+(\.\d+)? passages/s"), "<rate> passages/s"),
    (re.compile(r'"seconds": [0-9.e-]+'), '"seconds": <seconds>'),
    (re.compile(r'"conversation_id": "[0-9a-f]+"'), '"conversation_id": "<id>"'),
    (re.compile(r'"score": -?[0-9.e-]+'), '"score": <score>'),  # float sums: the last digits may vary by CPU
]
# The index is made afresh each run; the model's ONNX export beside it is kept (made on the first run only,
# as for any user), so the build's rate is the build's and not the export's.
WORK = ROOT / ".citeqa" / "tour"


def normalise(text: str) -> str:
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def run_tour() -> str:
    """The tour's Markdown: each command with what it printed."""
    with tempfile.TemporaryDirectory(prefix="citeqa-tour-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(ROOT / "seeds", tmp / "seeds")
        shutil.rmtree(WORK / "index", ignore_errors=True)
        env = {**os.environ, "CITEQA_CORPUS": str(tmp / "seeds"), "CITEQA_INDEX": str(WORK / "index"),
               "CITEQA_CONVERSATIONS": str(tmp / "conversations.sqlite"), "CITEQA_LOG_LEVEL": "WARNING",
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost"}

        def citeqa(*args: str) -> str:
            done = subprocess.run([CITEQA, *args], env=env, capture_output=True, text=True, timeout=300)
            if done.returncode:
                raise RuntimeError(f"citeqa {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
            return done.stdout.rstrip("\n")

        indexed = citeqa("index")
        asked = citeqa("ask", ASK)
        listed = citeqa("ask", SET_ASK)
        role = citeqa("ask", ROLE_ASK)
        refreshed = citeqa("refresh")
        ready, answer = _serve(env)
    shown = f"127.0.0.1:{SHOWN_PORT}"
    return "\n".join([
        "Index the folder (the seed corpus is five IP news articles from China in `seeds/`):", "",
        *_block("citeqa index", indexed), "",
        "Ask:", "",
        *_block(f'citeqa ask "{ASK}"', asked), "",
        "The span (\"Answer:\") is the reader's; each `[n]` cites a passage, and the characters are the quoted",
        "sentence's offsets in the article. `--json` prints the whole answer: text, span, citations with",
        "article id, passage id, quote (the passage), its character offsets, score, `sentences` (the",
        "offsets of exactly the quoted sentences) and the article's `url`, `published` and other `sources`.", "",
        "A question that asks for a set gets every member the article names, and `--json` adds `members`, each",
        "with its offsets in the article; \"Who is X?\" gets X's role where an article gives one:", "",
        *_block(f'citeqa ask "{SET_ASK}"', listed), "",
        *_block(f'citeqa ask "{ROLE_ASK}"', role), "",
        "Bring the index up to date after articles are added, edited or deleted (only those are",
        "embedded again; when nothing changed, nothing is published and the model is not even loaded):", "",
        *_block("citeqa refresh", refreshed), "",
        "`citeqa refresh --watch 60` repeats it every minute. A running `citeqa serve` picks up each new",
        "version by itself, without a restart and without failing the questions in flight.", "",
        f"Serve the HTTP API (then open http://{shown}/ for the web chat) and ask it:", "",
        "    $ citeqa serve &",
        *_block(f"curl -s {shown}/readyz", ready),
        *_block(f"curl -s {shown}/v1/ask -H 'content-type: application/json' "
                f"-d '{json.dumps({'question': HTTP_QUESTION})}' | python3 -m json.tool", answer),
    ])


def _block(command: str, output: str) -> list[str]:
    return [f"    $ {command}", *(f"    {line}".rstrip() for line in output.splitlines())]


def _serve(env: dict) -> tuple[str, str]:
    port = free_port()
    server = subprocess.Popen([CITEQA, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, ready = _request(port, "GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"citeqa serve did not get ready: {server.stderr.read()[-2000:] if server.poll() is not None else 'timeout'}")
            time.sleep(0.3)
        status, answer = _request(port, "POST", "/v1/ask", {"question": HTTP_QUESTION})
        if status != 200:
            raise RuntimeError(f"POST /v1/ask answered {status}: {answer}")
        return ready, json.dumps(json.loads(answer), indent=4, ensure_ascii=False)
    finally:
        server.terminate()
        server.wait(30)


def _request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, json.dumps(body) if body else None, {"content-type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        connection.close()


def readme_tour(readme: str) -> str:
    """The tour part of the README as it stands."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[start:end].strip("\n")


def main() -> int:
    tour = run_tour()
    readme = README.read_text(encoding="utf-8")
    if "--check" in sys.argv:
        same = normalise(readme_tour(readme)) == normalise(tour)
        print("the README's tour is the real output" if same else "the README's tour has drifted: "
              "run .venv/bin/python tests/readme_tour.py")
        return 0 if same else 1
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    README.write_text(f"{readme[:start]}\n{tour}\n{readme[end:]}", encoding="utf-8")
    print(f"rewrote the tour in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
