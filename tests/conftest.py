"""Shared fixtures: the seed articles, small articles made for a test, both embedders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot import runtime  # noqa: E402

runtime.prepare()  # as every citeqa entry point does, before numpy, FAISS or torch is imported
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from retrieval.embed.embedders import HashingEmbedder, SentenceTransformerEmbedder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
MENU_ARTICLE = "003_c7f9161024f195eb"

TINY = {
    "harbour": "New Harbour Bridge Opens\n\nOn March 3, 2021, the mayor of Port Alba, Ines Duarte, opened the new harbour "
               "bridge. The bridge cost 40 million euros and took three years to build. Mr. Duarte's deputy, Luis Prado, "
               "thanked the engineers of Alba Works Co., Ltd. for finishing early.\n",
    "orchard": "Apple Harvest Breaks Record\n\nFarmers in the Vale district picked 12,000 tonnes of apples this autumn, "
               "the largest harvest since 1998. The cooperative's chair, Maria Sousa, said that the dry summer had "
               "helped the fruit ripen early.\n",
    "library": "City Library Extends Opening Hours\n\nThe central library of Port Alba will open on Sundays from May. "
               "The librarian, Tomas Reis, said that 900 readers had signed a petition asking for weekend hours.\n",
}


def write_corpus(folder: Path, articles: dict[str, str] = TINY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    return Path(shutil.copytree(SEEDS, tmp_path / "seeds"))


@pytest.fixture
def hashing() -> HashingEmbedder:
    return HashingEmbedder(64)


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """The real model, loaded once for the whole session."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seeds_engine(minilm, tmp_path_factory):
    """The seed articles indexed with the real model, as `citeqa index` would."""
    from retrieval.engine import Engine
    from retrieval.index.files.refresh import build

    index_dir = tmp_path_factory.mktemp("seeds-index")
    build(SEEDS, index_dir, minilm)
    return Engine.open(index_dir, minilm)


NEWS = {
    **TINY,
    "ferry": "Old Ferry Makes Its Last Crossing\n\nOn June 5, 2019, the old ferry of Port Alba made its last crossing "
             "of the bay. The captain, Rui Lopes, steered the ferry for 31 years. The harbour museum will keep its bell.\n",
}


@pytest.fixture
def news_index(tmp_path) -> tuple[Path, Path]:
    """(corpus, index): the tiny articles and a dated one, indexed with the `hashing-256` embedder (for the front-ends)."""
    from retrieval.index.files.refresh import build

    corpus = write_corpus(tmp_path / "news", NEWS)
    build(corpus, tmp_path / "news-index", HashingEmbedder(256))
    return corpus, tmp_path / "news-index"


def poll_until(condition, what: str = "condition", seconds: float = 60.0, every: float = 0.02) -> None:
    """Poll until condition() is true; fail with `what` after a generous deadline (a loaded 2-core machine)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(every)


@pytest.fixture
def wait_until():
    """wait_until(condition, what): poll_until as a fixture."""
    return poll_until


@pytest.fixture
def tiny_engine(tiny_corpus, hashing, tmp_path):
    """The tiny corpus indexed with the hashing embedder: a real engine without a model."""
    from retrieval.engine import Engine
    from retrieval.index.files.refresh import build

    build(tiny_corpus, tmp_path / "index", hashing)
    return Engine.open(tmp_path / "index", hashing)


@pytest.fixture
def bot_api():
    """An imitation of the Telegram Bot API on 127.0.0.1 (tests/botapi.py)."""
    from botapi import BotAPI

    with BotAPI() as api:
        yield api


# --- Processes for the reliability tests: `citeqa` commands and a served API, on loopback, every wait bounded.

import queue  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

CITEQA = Path(sys.executable).with_name("citeqa")
DEADLINE = 60.0  # seconds any one wait may take before the test fails (generous: a loaded 2-core machine)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def citeqa_env(root: Path, corpus: Path, index: Path, model: str = "hashing-64", **settings: str) -> dict[str, str]:
    """The environment of a `citeqa` process working on `corpus` and `index` (CITEQA_* from `settings`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update(NO_PROXY="127.0.0.1,localhost", CITEQA_CORPUS=str(corpus), CITEQA_INDEX=str(index),
               CITEQA_MODEL=model, CITEQA_CONVERSATIONS=str(root / "conversations.sqlite"),
               CITEQA_RATE_LIMIT_PER_MINUTE="0", CITEQA_LOG_LEVEL="INFO")
    env.update({f"CITEQA_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def run_citeqa(args: list[str], env: dict[str, str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(CITEQA), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=DEADLINE, **kwargs)


class PausedCiteqa:
    """`citeqa <args>` stopped at a refresh checkpoint (CITEQA_TEST_PAUSE_AT): kill it, or let it go on."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, point: str):
        self.process = subprocess.Popen([str(CITEQA), *args], env={**env, "CITEQA_TEST_PAUSE_AT": point}, cwd=cwd,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.stderr: list[str] = []
        lines: queue.Queue = queue.Queue()

        def drain():  # a thread owns stderr, so that waiting on it is bounded
            for line in self.process.stderr:
                self.stderr.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"citeqa {' '.join(args)} never reached {point}:\n{''.join(self.stderr)}")
            if line is None:
                raise AssertionError(f"citeqa {' '.join(args)} ended before {point}:\n{''.join(self.stderr)}")
            if line.rstrip("\n").endswith(f"paused at {point}"):  # a progress bar may share the line
                return

    def kill(self) -> int:
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=DEADLINE)

    def resume(self) -> tuple[int, str]:
        """Let it go on; (exit code, stdout)."""
        self.process.stdin.write("\n")
        self.process.stdin.close()
        code = self.process.wait(timeout=DEADLINE)
        return code, self.process.stdout.read()


class ServedCiteqa:
    """`citeqa serve` as a real process on a free loopback port, with its log in a file."""

    def __init__(self, env: dict[str, str], cwd: Path):
        import httpx

        self.env, self.cwd, self.port = env, cwd, free_port()
        self.log_path = cwd / f"serve-{self.port}.log"
        self.log = open(self.log_path, "w+b")
        self.process = subprocess.Popen([str(CITEQA), "serve", "--port", str(self.port)], env=env, cwd=cwd,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=DEADLINE, trust_env=False)
        self.wait(lambda: self._status("/healthz") == 200, "the server to answer /healthz")

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _status(self, path: str) -> int | None:
        import httpx

        try:
            return self.client.get(path).status_code
        except httpx.TransportError:
            return None

    def wait(self, condition, what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            assert self.process.poll() is None, f"citeqa serve exited while waiting for {what}:\n{self.log_text()}"
            assert time.monotonic() < deadline, f"gave up waiting for {what}:\n{self.log_text()[-4000:]}"
            time.sleep(0.05)

    def version(self) -> str | None:
        """The index version /readyz reports, or None while it is not ready."""
        response = self.client.get("/readyz")
        return response.json()["index_version"] if response.status_code == 200 else None

    def wait_version(self, name: str) -> None:
        self.wait(lambda: self.version() == name, f"the server to load {name}")

    def stop(self, sig: int = signal.SIGINT) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def assert_cites_its_version(answer: dict, index_dir: Path, versions: dict | None = None) -> None:
    """Every citation of an /v1/ask answer is a passage of the index version the answer reports, to the character."""
    from retrieval.index.files import versions as store

    name = answer["index_version"]
    if versions is None or name not in versions:
        loaded = store.load_version(Path(index_dir) / "versions" / name)
        passages = {p.id: (p.text, p.start, p.end) for p in loaded.passages}
        if versions is not None:
            versions[name] = passages
    else:
        passages = versions[name]
    for c in answer["citations"]:
        assert c["passage_id"] in passages, f"{c['passage_id']} is not in version {name}"
        assert passages[c["passage_id"]] == (c["quote"], c["start"], c["end"]), c
