"""Benchmark corpora: real articles repeated with variation, and the cached vectors of the large sizes.

The base is every real article we have: the five seeds and the 240 XQuAD paragraphs (245 articles,
318 passages). Variant k of a base article is the same article with every integer shifted by k
("308 points" -> "311 points"), one of a few word swaps ("said" -> "stated", ...) and " (update k)"
after the title. The swaps and the shift keep every word count, so a variant is cut into the same
passage windows as its base: passage j of a variant corresponds to passage j of its base.

Small corpora are written as files and embedded by the real model. Large ones are built in memory
and written straight through `store.write_version`, each passage taking its base passage's real
vector plus Gaussian noise scaled so that its cosine to the base matches what the real model gives
real variants (measured on the embedded small corpus).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np

from retrieval.index.files import versions as store
from retrieval.articles.folder import parse_article, read_folder
from retrieval.articles.passages import split_passages
from retrieval.index.refresh import PIPELINE, embedding_text
from retrieval.types import Article, Passage

ROOT = Path(__file__).resolve().parents[1]
BASE_FOLDERS = (ROOT / "seeds", ROOT.parent / "shared" / "eval" / "xquad" / "corpus")
_INTEGER = re.compile(r"(?<![\w.,])\d+(?![\w.,]?\d)")
SWAPS = ({}, {"said": "stated", "year": "season"}, {"also": "further", "first": "earliest"},
         {"new": "fresh", "city": "town", "meeting": "session"})


def base_articles() -> list[Article]:
    articles = []
    for folder in BASE_FOLDERS:
        found, _ = read_folder(folder)
        articles.extend(found)
    return articles


def variant_text(article: Article, k: int) -> str:
    """The article's file text for variant k (k = 0 is the article itself)."""
    if k == 0:
        return article.text
    body = _INTEGER.sub(lambda m: str(int(m.group()) + k), article.text)
    for old, new in SWAPS[k % len(SWAPS)].items():
        body = re.sub(rf"\b{old}\b", new, body)
    first, _, rest = body.partition("\n")
    return f"{first.rstrip()} (update {k})\n{rest}"


def variant_id(article: Article, k: int) -> str:
    return article.id if k == 0 else f"v{k:04d}-{article.id}"


def variants(base: list[Article]):
    """(k, base article) in corpus order: every base article, then variant 1 of each, and so on."""
    k = 0
    while True:
        for article in base:
            yield k, article
        k += 1


def write_folder(folder: Path, base: list[Article], articles: int) -> Path:
    """The first `articles` articles of the variant sequence as files (rewritten from scratch)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for n, (k, article) in zip(range(articles), variants(base)):
        (folder / f"{variant_id(article, k)}.txt").write_text(variant_text(article, k), encoding="utf-8")
    return folder


def base_vectors(version: store.IndexVersion, base: list[Article]) -> dict[str, np.ndarray]:
    """Real vectors of the base passages, by base article id, from an index that holds them (k = 0)."""
    out = {}
    for article in base:
        out[article.id] = version.vectors[list(version.positions_of(article.id))]
    return out


def noise_scale(version: store.IndexVersion, base: list[Article], dimension: int) -> tuple[float, float]:
    """(sigma, mean cosine): the noise that gives cached vectors the cosine real variants have to their base."""
    cosines = []
    vectors = base_vectors(version, base)
    for article_id in version.articles:
        if not article_id.startswith("v"):
            continue
        base_id = article_id.split("-", 1)[1]
        mine = version.vectors[list(version.positions_of(article_id))]
        theirs = vectors[base_id]
        n = min(len(mine), len(theirs))
        cosines.extend(np.sum(mine[:n] * theirs[:n], axis=1).tolist())
    mean = float(np.mean(cosines))
    # For a unit v and Gaussian noise of sigma per dimension, cos(v, v + noise) ~ 1 / sqrt(1 + d sigma^2).
    return float(np.sqrt(max(1.0 / mean**2 - 1.0, 0.0) / dimension)), mean


def save_cache(path: Path, vectors: dict[str, np.ndarray], base: list[Article], sigma: float, cosine: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, sigma=sigma, cosine=cosine, fingerprint=fingerprint(base), **{f"v:{k}": v for k, v in vectors.items()})


def load_cache(path: Path, base: list[Article]) -> tuple[dict[str, np.ndarray], float, float] | None:
    """The cached base vectors, or None when there are none or the base texts changed since."""
    if not path.exists():
        return None
    with np.load(path) as data:
        if str(data["fingerprint"]) != fingerprint(base):
            return None
        vectors = {k[2:]: data[k] for k in data.files if k.startswith("v:")}
        return vectors, float(data["sigma"]), float(data["cosine"])


def fingerprint(base: list[Article]) -> str:
    digest = hashlib.sha256(PIPELINE.__repr__().encode())
    for article in base:
        digest.update(article.sha256.encode())
    return digest.hexdigest()


def write_cached(index_dir: Path, base: list[Article], passages_wanted: int, vectors: dict[str, np.ndarray],
                 sigma: float, model: str, seed: int = 0) -> tuple[int, int]:
    """Publish a corpus of at least `passages_wanted` passages with cached vectors; (articles, passages)."""
    shutil.rmtree(index_dir, ignore_errors=True)
    rng = np.random.default_rng(seed)
    articles: list[Article] = []
    passages: list[Passage] = []
    rows: list[np.ndarray] = []
    for k, article in variants(base):
        if len(passages) >= passages_wanted:
            break
        text = variant_text(article, k)
        variant = parse_article(variant_id(article, k), text, sha256=hashlib.sha256(text.encode()).hexdigest())
        cut = split_passages(variant, first_row=len(passages))
        own = vectors[article.id]
        picked = own[np.minimum(np.arange(len(cut)), len(own) - 1)]
        if k:
            picked = picked + rng.normal(0.0, sigma, picked.shape).astype(np.float32)
            picked /= np.linalg.norm(picked, axis=1, keepdims=True)
        articles.append(variant)
        passages.extend(cut)
        rows.append(picked.astype(np.float32))
    store.write_version(index_dir, articles, passages, np.concatenate(rows), model=model, settings=PIPELINE,
                        next_row=len(passages))
    return len(articles), len(passages)


def texts_of(version: store.IndexVersion) -> list[str]:
    return [embedding_text(p) for p in version.passages]
