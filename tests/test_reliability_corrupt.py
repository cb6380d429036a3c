"""A corrupted or truncated published version: refused with IndexCorrupt (never a crash or a wrong answer);
`citeqa serve` stays up, not ready, until `citeqa index` rebuilds; at hot reload the old version keeps serving."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.settings import Settings
from conftest import ServedCiteqa, assert_cites_its_version, citeqa_env, run_citeqa, write_corpus
from retrieval.checksums import sha256_file
from retrieval.index.files import versions as store
from retrieval.embed.embedders import HashingEmbedder
from retrieval.engine import Engine
from retrieval.errors import IndexCorrupt
from retrieval.index.files.refresh import build, refresh

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`


@pytest.fixture
def built(tiny_corpus, tmp_path, hashing):
    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, hashing)
    return index_dir, index_dir / "versions" / store.current_name(index_dir)


def rewrite_manifest(version, change) -> None:
    manifest = json.loads((version / "manifest.json").read_text())
    (version / "manifest.json").write_text(json.dumps(change(manifest)))


def behind_its_checksum(name: str, change) -> callable:
    """A file of the version changed and its manifest checksum updated too, so that the file's own reader
    and the version's consistency checks must catch it."""
    def corrupt(version) -> None:
        change(version / name)

        def with_checksum(manifest):
            manifest["files"][name]["sha256"] = sha256_file(version / name)
            return manifest

        rewrite_manifest(version, with_checksum)
    return corrupt


def _cut(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _save_array(path, change) -> None:
    import numpy as np

    np.save(path, change(np.load(path)), allow_pickle=False)


truncate_faiss_behind_its_checksum = behind_its_checksum("index.faiss", _cut)


CORRUPTIONS = {
    "faiss truncated behind its checksum": truncate_faiss_behind_its_checksum,
    "manifest is a list": lambda v: (v / "manifest.json").write_text("[]"),
    "manifest without files": lambda v: rewrite_manifest(v, lambda m: {k: x for k, x in m.items() if k != "files"}),
    "manifest without articles": lambda v: rewrite_manifest(v, lambda m: {k: x for k, x in m.items() if k != "articles"}),
    "manifest with files as a list": lambda v: rewrite_manifest(v, lambda m: {**m, "files": []}),
    "manifest truncated": lambda v: (v / "manifest.json").write_bytes((v / "manifest.json").read_bytes()[:40]),
    "passages truncated": lambda v: (v / "passages.npy").write_bytes((v / "passages.npy").read_bytes()[:-7]),
    "vectors emptied": lambda v: (v / "vectors.npy").write_bytes(b""),
    # The text index, each file changed behind its checksum:
    "BM25 data cut short": behind_its_checksum("bm25/data.csc.index.npy", _cut),
    "BM25 vocabulary not JSON": behind_its_checksum("bm25/vocab.index.json", lambda f: f.write_text("{")),
    "BM25 vocabulary of another index": behind_its_checksum(
        "bm25/vocab.index.json", lambda f: f.write_text(json.dumps({"only": 0}))),
    "BM25 of fewer passages": behind_its_checksum(
        "bm25/params.index.json", lambda f: f.write_text(json.dumps({**json.loads(f.read_text()), "num_docs": 1}))),
    "sentence spans past their passage": behind_its_checksum(
        "sentence_spans.npy", lambda f: _save_array(f, lambda a: a + 10_000)),
    "sentence spans of the wrong shape": behind_its_checksum("sentence_spans.npy", lambda f: _save_array(f, lambda a: a[:-1])),
    "term ids of fewer sentences": behind_its_checksum("sentence_terms.npy", lambda f: _save_array(f, lambda a: a[:-1])),
    "term ends backwards": behind_its_checksum("sentence_term_ends.npy", lambda f: _save_array(f, lambda a: a[::-1].copy())),
    "passage sentence ends of fewer passages": behind_its_checksum(
        "passage_sentence_ends.npy", lambda f: _save_array(f, lambda a: a[:-1])),
    "names not a list": behind_its_checksum("names.json", lambda f: f.write_text('{"a": 1}')),
    "names not JSON": behind_its_checksum("names.json", lambda f: f.write_text("[")),
    "passages naming an article the version lacks": behind_its_checksum(
        "passages.npy", lambda f: _save_array(f, lambda a: a + [[99, 0, 0, 0, 0, 0, 0]])),
    "passages of other texts": behind_its_checksum(
        "passages.npy", lambda f: _save_array(f, lambda a: a + [[0, 0, 0, 0, 0, 0, 3]])),
    "passage texts cut short": behind_its_checksum("passage_texts.txt", _cut),
    "a passage text of other length": behind_its_checksum(  # as many bytes, one character fewer
        "passage_texts.txt", lambda f: f.write_bytes("é".encode() + f.read_bytes()[2:])),
    "passages repeating a row": behind_its_checksum(
        "passages.npy", lambda f: _save_array(f, lambda a: a * [[1, 1, 0, 1, 1, 1, 1]])),
    "articles cut short": behind_its_checksum("articles.jsonl", _cut),
    "article lines of another file": behind_its_checksum("article_lines.npy", lambda f: _save_array(f, lambda a: a + 1)),
    "headings of fewer articles": behind_its_checksum(
        "headings.json", lambda f: f.write_text(json.dumps(json.loads(f.read_text())[1:]))),
    "headings not a list": behind_its_checksum("headings.json", lambda f: f.write_text('{"a": 1}')),
    "headings out of order": behind_its_checksum(
        "headings.json", lambda f: f.write_text(json.dumps(json.loads(f.read_text())[::-1]))),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupted_version_is_refused_as_corrupt_never_another_error(built, hashing, corruption):
    index_dir, version = built
    CORRUPTIONS[corruption](version)
    with pytest.raises(IndexCorrupt) as refused:
        store.load_version(version)
    if "manifest" not in corruption:  # the message names the file to look at
        assert any(name.split("/")[0] in str(refused.value) for name in store.FILES), refused.value
    engine = Engine(index_dir, hashing)
    with pytest.raises(IndexCorrupt):
        engine.reload()
    assert not engine.ready and engine.load_error


def test_refresh_over_a_corrupted_version_rebuilds_it(built, tiny_corpus, hashing, caplog):
    index_dir, version = built
    truncate_faiss_behind_its_checksum(version)
    with caplog.at_level(logging.WARNING, logger="retrieval.index.files.refresh"):
        report = refresh(tiny_corpus, index_dir, hashing)
    assert report.published and report.embedded == report.passages
    assert "rebuilding from scratch" in caplog.text and "index.faiss" in caplog.text
    assert Engine.open(index_dir, hashing).index.name == report.version


def test_serve_stays_up_not_ready_on_a_corrupted_index_until_citeqa_index_rebuilds(tmp_path):
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    build(corpus, index_dir, HashingEmbedder(64))
    version = index_dir / "versions" / store.current_name(index_dir)
    (version / "passages.npy").write_bytes((version / "passages.npy").read_bytes()[:-50])
    env = citeqa_env(tmp_path, corpus, index_dir, reload_seconds="0.1")
    server = ServedCiteqa(env, tmp_path)
    try:
        server.wait(lambda: "index not (re)loaded" in server.log_text(), "the refusal to be logged")
        line = next(x for x in server.log_text().splitlines() if "index not (re)loaded" in x)
        assert "ERROR" in line and "not ready" in line and "passages.npy does not match its manifest" in line
        assert server.client.get("/healthz").status_code == 200
        ready = server.client.get("/readyz")
        assert ready.status_code == 503 and "passages.npy does not match" in ready.json()["detail"]
        asked = server.client.post("/v1/ask", json={"question": "Who opened the new harbour bridge?"})
        assert asked.status_code == 503 and asked.json()["detail"]

        rebuilt = run_citeqa(["index"], env, tmp_path)
        assert rebuilt.returncode == 0, rebuilt.stderr
        server.wait_version(store.current_name(index_dir))
        answer = server.client.post("/v1/ask", json={"question": "Who opened the new harbour bridge?"}).json()
        assert answer["citations"][0]["article_id"] == "harbour"
        assert_cites_its_version(answer, index_dir)
        assert server.process.poll() is None
    finally:
        server.stop()


def test_a_corrupted_version_met_at_hot_reload_is_refused_and_the_old_one_keeps_serving(tmp_path, wait_until, caplog):
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    embedder = HashingEmbedder(64)
    old = build(corpus, index_dir, embedder).version
    settings = Settings(_env_file=None, corpus=corpus, index=index_dir, model="hashing-64",
                        conversations=tmp_path / "conversations.sqlite", reload_seconds=0.05, rate_limit_per_minute=0)
    with TestClient(create_app(settings=settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, "the first index")
        (corpus / "ferry.txt").write_text("Ferry Returns\n\nThe night ferry to Lisbon runs again from June.\n")

        def corrupt_before_publishing(point: str) -> None:  # bit rot between the write and the publish
            if point == "before-publish":
                [new] = [p for p in (index_dir / "versions").iterdir() if p.name > old]
                data = bytearray((new / "vectors.npy").read_bytes())
                data[-1] ^= 0xFF
                (new / "vectors.npy").write_bytes(bytes(data))

        with caplog.at_level(logging.ERROR, logger="bot.api.app"):
            bad = refresh(corpus, index_dir, embedder, checkpoint=corrupt_before_publishing).version
            wait_until(lambda: bad in caplog.text, "the bad version to be refused")
        assert f"still serving {old}" in caplog.text and "vectors.npy does not match its manifest" in caplog.text
        assert client.get("/readyz").json()["index_version"] == old
        answer = client.post("/v1/ask", json={"question": "How many tonnes of apples did farmers pick?"}).json()
        assert answer["index_version"] == old and answer["citations"][0]["article_id"] == "orchard"

        good = refresh(corpus, index_dir, embedder).version  # rebuilds from scratch over the bad one
        wait_until(lambda: client.get("/readyz").json()["index_version"] == good, "the good version")
        answer = client.post("/v1/ask", json={"question": "When does the night ferry to Lisbon run again?"}).json()
        assert answer["index_version"] == good and answer["citations"][0]["article_id"] == "ferry"
