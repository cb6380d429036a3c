"""Shared fixtures: the seed articles, small articles made for a test, both embedders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from retrieval.embed import HashingEmbedder, SentenceTransformerEmbedder  # noqa: E402

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
    from retrieval.refresh import build

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
    from retrieval.refresh import build

    corpus = write_corpus(tmp_path / "news", NEWS)
    build(corpus, tmp_path / "news-index", HashingEmbedder(256))
    return corpus, tmp_path / "news-index"


@pytest.fixture
def wait_until():
    """wait_until(condition, what): poll until condition() is true; fail with `what` after a generous deadline."""
    import time

    def wait(condition, what: str = "condition", seconds: float = 60.0, every: float = 0.02):
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}")
            time.sleep(every)

    return wait


@pytest.fixture
def tiny_engine(tiny_corpus, hashing, tmp_path):
    """The tiny corpus indexed with the hashing embedder: a real engine without a model."""
    from retrieval.engine import Engine
    from retrieval.refresh import build

    build(tiny_corpus, tmp_path / "index", hashing)
    return Engine.open(tmp_path / "index", hashing)


@pytest.fixture
def bot_api():
    """An imitation of the Telegram Bot API on 127.0.0.1 (tests/botapi.py)."""
    from botapi import BotAPI

    with BotAPI() as api:
        yield api
