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
