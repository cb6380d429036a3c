"""The sentence index against brute force: each passage split on its own, each sentence's terms counted."""

import numpy as np
import pytest

from retrieval import store
from retrieval.embed import HashingEmbedder
from retrieval.refresh import build
from retrieval.search import SearchIndex
from retrieval.sparse import SparseIndex
from retrieval.sentence_index import SentenceIndex
from retrieval.sentences import sentences_with_terms
from retrieval.terms import terms

TEXTS = [
    "Wang Qishan, Mayor of Beijing, met Francis Gurry. The meeting was held on April 23. — ",
    "",
    "— … !",  # no term at all
    "The ﬁrst ofﬁce opened in 2014.\nIt is run by Chen Hongbing, who met the mayor.",
    "Mayor Ines Duarte opened the bridge. The bridge cost 40 million euros.",
]


@pytest.fixture(scope="module")
def seed_version(tmp_path_factory):
    from conftest import SEEDS

    index_dir = tmp_path_factory.mktemp("seed-index")
    build(SEEDS, index_dir, HashingEmbedder())
    return store.load_current(index_dir)


def brute_force(text: str, wanted: dict[str, float]) -> float:
    total = sum(wanted.values()) or 1.0
    return max((sum(w for t, w in wanted.items() if t in sentence_terms)
                for _, _, sentence_terms in sentences_with_terms(text)), default=0.0) / total


def built(texts: list[str]) -> tuple[SentenceIndex, list[list[str]]]:
    return SentenceIndex.build(texts)


def test_each_passages_terms_are_its_texts_terms():
    _, passage_terms = built(TEXTS)
    assert passage_terms == [terms(t) for t in TEXTS]


@pytest.mark.parametrize("query", ["Who met the mayor?", "When was the meeting held?", "bridge euros cost",
                                   "first office 2014", "chocolate cake", ""])
def test_best_coverage_matches_brute_force(query):
    index, _ = built(TEXTS)
    wanted = {t: 1.0 + len(t) / 10 for t in set(terms(query))}  # unequal weights, so which sentence wins matters
    found = index.best_coverage(range(len(TEXTS)), wanted)
    assert found == pytest.approx({i: brute_force(t, wanted) for i, t in enumerate(TEXTS)})


def test_seed_passages_match_brute_force(seed_version):
    index = SearchIndex(seed_version)
    passages = seed_version.passages
    questions = ["Who attended the Beijing WIPO meeting?", "What did she thank Beijing for?",
                 "How many patent applications were filed?"]
    for question in questions:
        wanted = {t: index.sparse.weight(t) for t in set(terms(question))}
        found = index.sentence_index.best_coverage(range(len(passages)), wanted)
        assert found == pytest.approx({i: brute_force(p.text, wanted) for i, p in enumerate(passages)})


def test_bm25_indexes_title_date_and_text_of_each_passage(seed_version):
    """The index built from the sentence split scores as one built from each passage's whole text."""
    index = SearchIndex(seed_version)
    whole = SparseIndex(terms(" ".join(filter(None, (p.title, p.date, p.text)))) for p in seed_version.passages)
    assert index.sparse.idf == whole.idf
    for question in ["Who attended the Beijing WIPO meeting?", "WIPO Beijing office 2014", "intellectual property"]:
        np.testing.assert_allclose(index.sparse.scores(terms(question)), whole.scores(terms(question)), rtol=1e-6)
