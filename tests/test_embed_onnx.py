"""The ONNX Runtime embedder: exported once from the local weights, torch's vectors, a damaged cache rebuilt."""

from __future__ import annotations

import json
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bot.settings import Settings, make_embedder
from retrieval.articles.folder import read_folder
from retrieval.embed.embedders import SentenceTransformerEmbedder
from retrieval.embed.onnx_embedder import OnnxEmbedder
from retrieval.embed.onnx_export import cache_key, is_intact
from retrieval.articles.passages import split_passages

from conftest import SEEDS

pytestmark = pytest.mark.model

QUESTIONS = ["Who presided over the meeting?", "how much did the bridge cost", "Wann wurde die Brücke eröffnet?", ""]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def onnx(onnx_cache) -> OnnxEmbedder:
    """Exported into a fresh cache by the first test that uses it."""
    return OnnxEmbedder(cache_dir=onnx_cache)


def seed_texts(n: int = 12) -> list[str]:
    passages = [p for a in read_folder(SEEDS)[0] for p in split_passages(a)]
    return [f"{p.title}\n{p.text}" for p in passages[:n]]


def test_export_is_cached_with_its_digest(onnx, onnx_cache):
    path = onnx.model_file
    assert path.parent == onnx_cache and path.suffix == ".onnx"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["bytes"] == path.stat().st_size and is_intact(path)
    assert sidecar["probe_cosine"] >= 0.99999
    assert not [p.name for p in onnx_cache.iterdir() if p.name.startswith(".tmp-")]
    # A second embedder reuses the file rather than exporting again.
    again = OnnxEmbedder(cache_dir=onnx_cache)
    assert again.model_file == path and path.stat().st_mtime_ns == again.model_file.stat().st_mtime_ns


def test_vectors_match_torch(onnx, minilm):
    texts = seed_texts() + QUESTIONS + ["word " * 600]  # the last one is cut at 256 word pieces by both
    got, expected = onnx.encode(texts, batch_size=5), minilm.encode(texts)
    assert got.dtype == np.float32 and got.shape == expected.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.sum(got * expected, axis=1).min() >= 0.99999
    assert onnx.name == minilm.name  # same vectors, so an index built by either serves the other


def test_a_batch_gives_each_text_its_own_vector(onnx):
    texts = seed_texts(6) + QUESTIONS
    together = onnx.encode(texts, batch_size=4)  # padded batches of different lengths, longest first
    alone = np.vstack([onnx.encode([t]) for t in texts])
    assert np.sum(together * alone, axis=1).min() >= 0.99999


def test_empty_and_odd_input(onnx):
    before = onnx.texts_encoded
    empty = onnx.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert onnx.texts_encoded == before
    odd = onnx.encode(["", "   ", "\x00", "🙂" * 300], batch_size=0)
    assert odd.shape == (4, 384) and np.isfinite(odd).all()
    assert onnx.texts_encoded == before + 4
    assert onnx.dimension == 384


def _copy_cache(source: Path, target: Path) -> Path:
    target.mkdir()
    for p in source.iterdir():
        if p.suffix in (".onnx", ".json"):
            shutil.copy2(p, target / p.name)
    return target


def test_a_partial_cached_file_is_rebuilt_once(onnx, minilm, tmp_path, caplog):
    cache = _copy_cache(onnx.model_file.parent, tmp_path / "cache")
    path = cache / onnx.model_file.name
    with open(path, "r+b") as f:  # what a crash halfway through a copy leaves
        f.truncate(path.stat().st_size // 2)
    assert not is_intact(path)
    (cache / ".tmp-died.onnx").write_bytes(b"half an export")
    old = cache / f"{onnx.model_dir.name}-0000older0key000000"  # an export under a key the weights no longer have
    old.with_suffix(".onnx").write_bytes(b"old")
    old.with_suffix(".json").write_text(json.dumps({"model": str(onnx.model_dir), "bytes": 3}))
    # Two embedders at once, as a server and a bot starting together: one exports, the other waits and reuses it.
    embedders = [OnnxEmbedder(cache_dir=cache) for _ in range(2)]
    with caplog.at_level(logging.WARNING, logger="retrieval.embed.onnx_embedder"):
        with ThreadPoolExecutor(2) as pool:
            vectors = list(pool.map(lambda e: e.encode(QUESTIONS), embedders))
    assert caplog.text.count("damaged or incomplete") == 1
    assert is_intact(path) and path.stat().st_size == onnx.model_file.stat().st_size
    for v in vectors:
        assert np.sum(v * minilm.encode(QUESTIONS), axis=1).min() >= 0.99999
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".lock")) == sorted([path.name, path.with_suffix(".json").name])


def test_a_file_onnx_runtime_cannot_load_is_rebuilt(onnx, tmp_path, caplog):
    cache = _copy_cache(onnx.model_file.parent, tmp_path / "cache")
    path = cache / onnx.model_file.name
    path.write_bytes(b"not an onnx model")
    # A sidecar that vouches for the garbage: only loading it can tell.
    sidecar = json.loads(path.with_suffix(".json").read_text())
    import hashlib

    sidecar.update(bytes=path.stat().st_size, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    with caplog.at_level(logging.WARNING, logger="retrieval.embed.onnx_embedder"):
        vectors = OnnxEmbedder(cache_dir=cache).encode(QUESTIONS[:1])
    assert "cannot load" in caplog.text
    assert vectors.shape == (1, 384) and is_intact(path) and path.stat().st_size > 1_000_000


@pytest.mark.parametrize("damage", ["flipped byte", "no sidecar", "garbled sidecar"])
def test_damage_is_detected(onnx, tmp_path, damage):
    cache = _copy_cache(onnx.model_file.parent, tmp_path / "cache")
    path = cache / onnx.model_file.name
    assert is_intact(path)
    if damage == "flipped byte":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # a weight changed: the file still loads, the digest catches it
        path.write_bytes(bytes(data))
    elif damage == "no sidecar":
        path.with_suffix(".json").unlink()
    else:
        path.with_suffix(".json").write_text("{")
    assert not is_intact(path)


def test_the_cache_key_follows_the_weights(onnx, tmp_path):
    model_dir = onnx.model_dir
    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    assert cache_key(copy) != cache_key(model_dir)  # another folder
    before = cache_key(copy)
    (copy / "config.json").write_text((copy / "config.json").read_text() + "\n")
    assert cache_key(copy) != before  # the same folder with changed files


def test_the_setting_chooses_the_backend(tmp_path):
    index = tmp_path / "citeqa" / "index"
    onnx = make_embedder(Settings(_env_file=None, index=index))  # the default
    torch = make_embedder(Settings(_env_file=None, index=index, embed_backend="torch"))
    assert isinstance(onnx, OnnxEmbedder) and onnx.cache_dir == tmp_path / "citeqa" / "onnx"
    assert isinstance(torch, SentenceTransformerEmbedder) and torch.name == onnx.name
    assert make_embedder(Settings(_env_file=None, model="hashing-64")).name == "hashing-64"


def test_an_index_built_with_torch_serves_onnx_questions(onnx, seeds_engine):
    from retrieval.engine import Engine, ask

    engine = Engine.open(seeds_engine.index_dir, onnx)  # no ModelMismatch: the same name, the same vectors
    question = "Who presided over the meeting?"
    got, expected = ask(engine, question), ask(seeds_engine, question)
    assert [c.passage_id for c in got.citations] == [c.passage_id for c in expected.citations]
    assert got.text == expected.text
