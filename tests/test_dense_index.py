"""The dense index choice: IVF against exact search on real articles, through refresh, save and load."""

import json
import shutil

import numpy as np
import pytest

from retrieval.index import ivf
from retrieval.index.files import versions as store
from retrieval.index.files.dense import DenseIndex
from retrieval.embed.embedders import HashingEmbedder
from retrieval.errors import IndexCorrupt
from retrieval.evaluate.run import load_questions
from retrieval.index.files.refresh import build, refresh

from conftest import SEEDS, SHARED

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

XQUAD = SHARED / "eval" / "xquad"


@pytest.fixture(scope="module")
def embedder():
    return HashingEmbedder(256)


@pytest.fixture
def articles(tmp_path):
    """The XQuAD paragraphs and the seeds: 245 real articles, 300-odd passages."""
    folder = tmp_path / "corpus"
    shutil.copytree(XQUAD / "corpus", folder)
    for path in SEEDS.iterdir():
        shutil.copy(path, folder)
    return folder


@pytest.fixture(scope="module")
def questions(embedder):
    return embedder.encode([c[0].question for c in load_questions(XQUAD / "dev.jsonl")][:200])


def exact_top(version, query, k):
    """Brute force over the stored vectors: the oracle, as row ids."""
    scores = version.vectors @ query
    return [version.passages[i].row for i in np.argsort(-scores, kind="stable")[:k]], scores


def test_ivf_built_by_refresh_finds_what_exact_search_finds(articles, tmp_path, embedder, questions):
    build(articles, tmp_path / "flat", embedder, dense_index="flat")
    build(articles, tmp_path / "ivf", embedder, dense_index="ivf")
    flat, ivf = store.load_current(tmp_path / "flat"), store.load_current(tmp_path / "ivf")
    assert (flat.dense.kind, ivf.dense.kind) == ("flat", "ivf")
    assert ivf.manifest["dense"] == {"kind": "ivf", "lists": ivf.manifest["dense"]["lists"],
                                     "probes": ivf.manifest["dense"]["probes"]}
    assert ivf.manifest["dense"]["lists"] > 1
    # Hashed bag-of-words vectors tie often, and a tie may come out in either order: the oracle is the
    # exact top-10 scores, and each row's own score (so every id maps to its passage).
    for q in questions:
        truth, scores = exact_top(flat, q, 10)
        got = ivf.dense.search(q, 10)
        assert np.allclose([s for _, s in got], scores[[flat.position[r] for r in truth]], atol=1e-5)
        assert np.allclose([s for _, s in got], [scores[flat.position[r]] for r, _ in got], atol=1e-5)


def test_ivf_recall_grows_with_the_lists_probed_and_scores_stay_true(articles, tmp_path, embedder, questions):
    build(articles, tmp_path / "index", embedder, dense_index="flat")
    version = store.load_current(tmp_path / "index")
    rows = np.array([p.row for p in version.passages])
    recall = {}
    for probes in (2, 4, 8, 16):
        index = DenseIndex.build(version.vectors, rows, "ivf", lists=16, probes=probes)
        found = []
        for q in questions:
            truth, scores = exact_top(version, q, 10)
            got = index.search(q, 10)
            for row, score in got:  # every id maps to its own passage: the score is that passage's inner product
                assert score == pytest.approx(float(scores[version.position[row]]), abs=1e-5)
            tenth = scores[version.position[truth[-1]]]
            found.append(sum(s >= tenth - 1e-5 for _, s in got) / 10)  # tie-aware recall@10
        recall[probes] = float(np.mean(found))
    assert recall[2] <= recall[4] <= recall[8] <= recall[16] == 1.0, recall


def test_ivf_survives_an_article_changed_and_one_removed(articles, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(articles, index_dir, embedder, dense_index="ivf")
    before = store.load_current(index_dir)
    changed, removed = sorted(articles.iterdir())[10], sorted(articles.iterdir())[20]
    changed.write_text(changed.read_text(encoding="utf-8").rstrip() + " The lighthouse keeper counted 77 gulls.\n",
                       encoding="utf-8")
    removed_rows = {p.row for p in before.passages_of(removed.stem)}
    removed_vectors = before.vectors[[before.position[r] for r in removed_rows]]
    removed.unlink()

    report = refresh(articles, index_dir, embedder, dense_index="ivf")
    assert report.changed == (changed.stem,) and report.removed == (removed.stem,)
    after = store.load_current(index_dir)  # verified against its manifest on load
    assert after.dense.kind == after.manifest["dense"]["kind"] == "ivf"
    assert len(after.dense) == len(after.passages)
    for v in removed_vectors:
        assert not {r for r, _ in after.dense.search(v, 10)} & removed_rows
    for p in after.passages_of(changed.stem):
        vector = after.vectors[after.position[p.row]]
        assert after.dense.search(vector, 1)[0][0] == exact_top(after, vector, 1)[0][0]
    for p in after.passages[::7]:  # every kept passage is still found by its own vector
        vector = after.vectors[after.position[p.row]]
        assert after.dense.search(vector, 1)[0][1] == pytest.approx(1.0, abs=1e-4)


def test_changing_only_the_setting_republishes_without_embedding(tiny_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    first = build(tiny_corpus, index_dir, embedder, dense_index="flat")
    switched = refresh(tiny_corpus, index_dir, embedder, dense_index="ivf")
    assert switched.published and switched.embedded == 0 and switched.version != first.version
    version = store.load_current(index_dir)
    assert version.dense.kind == "ivf"
    assert not refresh(tiny_corpus, index_dir, embedder, dense_index="ivf").published
    back = refresh(tiny_corpus, index_dir, embedder, dense_index="auto")  # a small corpus: auto is exact
    assert back.published and store.load_current(index_dir).dense.kind == "flat"


def test_ivf_save_and_load_keep_kind_probes_and_results(tmp_path, embedder, questions):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(2000, 256)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = np.arange(5000, 7000)
    index = DenseIndex.build(vectors, rows, "ivf")
    index.save(tmp_path / "index.faiss")
    loaded = DenseIndex.load(tmp_path / "index.faiss")
    assert loaded.kind == "ivf" and loaded.describe() == index.describe()
    assert loaded.describe()["probes"] == ivf.ivf_probes(loaded.describe()["lists"])
    for q in questions[:50]:
        assert loaded.search(q, 10) == index.search(q, 10)


def test_manifest_that_names_another_kind_is_refused(tiny_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, embedder, dense_index="ivf")
    path = index_dir / "versions" / store.current_name(index_dir)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["dense"] = {"kind": "flat"}
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt, match="FAISS index is ivf, manifest says flat"):
        store.load_version(path)


def test_auto_is_exact_below_the_threshold_and_ivf_from_it():
    assert ivf.resolve("auto", ivf.AUTO_IVF_PASSAGES - 1) == "flat"
    assert ivf.resolve("auto", ivf.AUTO_IVF_PASSAGES) == "ivf"
    assert ivf.resolve("flat", 10**7) == "flat"
    with pytest.raises(ValueError, match="hnsw"):
        ivf.resolve("hnsw", 10)
    # lists are never thinner than k-means can train, and the probes never exceed the lists
    for n in (1, 50, 1313, 20_000, 100_000, 10**6):
        lists = ivf.ivf_lists(n)
        assert 1 <= lists and (n < ivf.MIN_POINTS_PER_LIST or n // lists >= ivf.MIN_POINTS_PER_LIST)
        assert 1 <= ivf.ivf_probes(lists) <= lists


def test_setting_reaches_refresh_from_the_environment(monkeypatch):
    from pydantic import ValidationError

    from bot.settings import Settings

    assert Settings().dense_index == "flat"
    monkeypatch.setenv("CITEQA_DENSE_INDEX", "ivf")
    assert Settings().dense_index == "ivf"
    monkeypatch.setenv("CITEQA_DENSE_INDEX", "hnsw")
    with pytest.raises(ValidationError):
        Settings()
