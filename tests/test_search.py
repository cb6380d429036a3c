"""Search against oracles: FAISS against brute-force numpy, fusion against a hand-computed table."""

import numpy as np
import pytest

from retrieval.index.files.dense import DenseIndex
from retrieval.search.fusion import reciprocal_rank_fusion
from retrieval.question.query import parse
from retrieval.index.files.snapshot import FileSnapshot
from retrieval.search.ranking import diversify, search
from retrieval.index.files import versions as store
from retrieval.index.files.refresh import build
from retrieval.types import Hit, Passage


def test_dense_search_matches_brute_force():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = np.arange(1000, 1500)  # ids that are not positions
    index = DenseIndex.build(vectors, rows)
    for q in vectors[:20] + 0.1:
        expected = np.argsort(-(vectors @ q))[:10]
        got = index.search(q, 10)
        assert [r for r, _ in got] == list(rows[expected])
        assert np.allclose([s for _, s in got], (vectors @ q)[expected], atol=1e-5)


def test_reciprocal_rank_fusion_by_hand():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c"]], k=1)
    # a: 1/2; b: 1/3 + 1/2; c: 1/4 + 1/3
    assert fused == pytest.approx({"a": 0.5, "b": 5 / 6, "c": 7 / 12})
    weighted = reciprocal_rank_fusion([["a"], ["b"]], weights=[2.0, 1.0], k=0)
    assert weighted == {"a": 2.0, "b": 1.0}


def test_diversify_drops_only_near_duplicates():
    def hit(article, start, end):
        return Hit(Passage(f"{article}#{start}", start, article, "t", start, end, "x" * (end - start)), 1.0)

    hits = [hit("a", 0, 100), hit("a", 90, 200), hit("a", 10, 95), hit("b", 0, 100)]
    kept = diversify(hits)
    assert [(h.passage.article_id, h.passage.start) for h in kept] == [("a", 0), ("a", 90), ("b", 0)]


@pytest.fixture
def tiny_index(tiny_corpus, tmp_path, hashing):
    build(tiny_corpus, tmp_path / "index", hashing)
    return FileSnapshot(store.load_current(tmp_path / "index"))


@pytest.mark.parametrize("retriever", ["dense", "bm25", "rrf", "hybrid"])
def test_each_retriever_finds_the_article(tiny_index, hashing, retriever):
    hits = search(tiny_index, hashing, "apple harvest tonnes", retriever=retriever)
    assert hits[0].passage.article_id == "orchard"
    assert all(h.dense is not None for h in hits)


def test_titles_and_dates_are_searchable(tiny_index, hashing):
    assert search(tiny_index, hashing, "Extends Opening Hours", retriever="bm25")[0].passage.article_id == "library"
    assert search(tiny_index, hashing, "March 3, 2021", retriever="bm25")[0].passage.article_id == "harbour"


def test_article_filter(tiny_index, hashing):
    hits = search(tiny_index, hashing, parse("apple harvest", tiny_index.sparse, article_ids={"library"}))
    assert hits and {h.passage.article_id for h in hits} == {"library"}
    assert search(tiny_index, hashing, parse("apple", tiny_index.sparse, article_ids={"nope"})) == []
