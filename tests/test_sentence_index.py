"""The text index a version stores, against brute force: each passage split on its own, each sentence's
terms counted, BM25 built from each passage's whole text; a refresh's copy against a fresh build."""

import shutil

import numpy as np
import pytest

from retrieval.index.files import versions as store
from retrieval.embed.embedders import HashingEmbedder
from retrieval.index.files.refresh import build, refresh
from retrieval.index.files.snapshot import FileSnapshot
from retrieval.index.sentence_table import SentenceBuilder
from retrieval.articles.sentences import sentences_with_terms
from retrieval.index.bm25 import EMPTY, SparseIndex
from retrieval.question.spelling import names_in
from retrieval.terms import terms

TEXTS = [
    "Wang Qishan, Mayor of Beijing, met Francis Gurry. The meeting was held on April 23. — ",
    "",
    "— … !",  # no term at all
    "The ﬁrst ofﬁce opened in 2014.\nIt is run by Chen Hongbing, who met the mayor.",
    "Mayor Ines Duarte opened the bridge. — ! The bridge cost 40 million euros.",  # a sentence without terms between
]


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory):
    from conftest import SEEDS

    index_dir = tmp_path_factory.mktemp("seed-index")
    build(SEEDS, index_dir, HashingEmbedder())
    return index_dir


@pytest.fixture(scope="module")
def seed_version(seed_index):
    return store.load_current(seed_index)


def brute_force(text: str, wanted: dict[str, float]) -> float:
    total = sum(wanted.values()) or 1.0
    return max((sum(w for t, w in wanted.items() if t in sentence_terms)
                for _, _, sentence_terms in sentences_with_terms(text)), default=0.0) / total


def built(texts: list[str]):
    builder = SentenceBuilder()
    ids = [builder.add_text(t) for t in texts]
    return builder.finish(), ids


def test_each_passages_terms_and_sentences_are_its_texts():
    index, ids = built(TEXTS)
    assert [[index.terms[i] for i in passage] for passage in ids] == [terms(t) for t in TEXTS]
    for position, text in enumerate(TEXTS):
        assert index.sentences(position) == sentences_with_terms(text)
        assert index.passage_term_ids(position).tolist() == ids[position]


@pytest.mark.parametrize("query", ["Who met the mayor?", "When was the meeting held?", "bridge euros cost",
                                   "first office 2014", "chocolate cake", ""])
def test_best_coverage_matches_brute_force(query):
    index, _ = built(TEXTS)
    wanted = {t: 1.0 + len(t) / 10 for t in set(terms(query))}  # unequal weights, so which sentence wins matters
    found = index.best_coverage(range(len(TEXTS)), wanted)
    assert found == pytest.approx({i: brute_force(t, wanted) for i, t in enumerate(TEXTS)})


def test_seed_passages_match_brute_force(seed_version):
    index = FileSnapshot(seed_version)
    passages = seed_version.passages
    questions = ["Who attended the Beijing WIPO meeting?", "What did she thank Beijing for?",
                 "How many patent applications were filed?"]
    for question in questions:
        wanted = {t: index.sparse.weight(t) for t in set(terms(question))}
        found = index.sentence_index.best_coverage(range(len(passages)), wanted)
        assert found == pytest.approx({i: brute_force(p.text, wanted) for i, p in enumerate(passages)})
    for p in passages:
        assert index.sentences_of(p) == sentences_with_terms(p.text)


def whole_text_bm25(passages) -> SparseIndex:
    documents = [terms(" ".join(filter(None, (p.title, p.date, p.text)))) for p in passages]
    vocabulary = {EMPTY: 0}
    for d in documents:
        for t in d:
            vocabulary.setdefault(t, len(vocabulary))
    return SparseIndex.build([[vocabulary[t] for t in d] for d in documents], vocabulary)


def test_bm25_indexes_title_date_and_text_of_each_passage(seed_version):
    """The stored index scores as one built from each passage's whole text, and its IDF is the same."""
    index = FileSnapshot(seed_version)
    whole = whole_text_bm25(seed_version.passages)
    assert dict(index.sparse) == pytest.approx(dict(whole))
    for question in ["Who attended the Beijing WIPO meeting?", "WIPO Beijing office 2014", "intellectual property"]:
        np.testing.assert_allclose(index.sparse.scores(terms(question)), whole.scores(terms(question)), rtol=1e-6)
    assert index.speller.names == names_in(p.text for p in seed_version.passages)


def test_a_refresh_copies_what_it_keeps_and_equals_a_fresh_build(tmp_path):
    """Change one article, add one, remove one: the refreshed version's text index (kept passages copied as
    stored ids) answers exactly as one built from scratch over the same passages."""
    from conftest import SEEDS

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    embedder = HashingEmbedder()
    build(corpus, tmp_path / "index", embedder)
    files = sorted(corpus.iterdir())
    files[0].write_text(files[0].read_text(encoding="utf-8") + "\nMr Zhang Wei opened the Zorblat archive.\n",
                        encoding="utf-8")
    files[1].unlink()  # its terms must leave the vocabulary
    (corpus / "harbour.txt").write_text("Harbour bridge\nMayor Ines Duarte opened the harbour bridge on Monday.\n",
                                        encoding="utf-8")
    report = refresh(corpus, tmp_path / "index", embedder)
    assert report.embedded and report.unchanged
    refreshed = store.load_current(tmp_path / "index")
    fresh = build(corpus, tmp_path / "fresh", embedder)
    scratch = store.load_current(tmp_path / "fresh")
    assert fresh.passages == len(refreshed.passages)
    a, b = refreshed.text, scratch.text
    assert set(a.sparse.vocabulary) == set(b.sparse.vocabulary)  # nothing removed lingers
    assert dict(a.sparse) == pytest.approx(dict(b.sparse))
    assert a.all_names == b.all_names and "zorblat" in a.all_names
    for position in range(len(refreshed.passages)):
        assert a.sentences.sentences(position) == b.sentences.sentences(position)
    for question in ["Zorblat archive", "Who opened the harbour bridge?", "WIPO Beijing office"]:
        np.testing.assert_allclose(a.sparse.scores(terms(question)), b.sparse.scores(terms(question)), rtol=1e-6)


def test_loading_a_version_tokenises_nothing(seed_index, seed_version, monkeypatch):
    """Loading reads what the build wrote: no passage is split or tokenised while a server waits."""
    import retrieval.articles.sentences
    import retrieval.terms

    def refuse(*args, **kwargs):
        raise AssertionError("a load tokenised text")

    monkeypatch.setattr(retrieval.terms, "tokens", refuse)
    monkeypatch.setattr(retrieval.articles.sentences, "split_sentences", refuse)
    loaded = store.load_current(seed_index)
    FileSnapshot(loaded)
    assert [p.id for p in loaded.passages] == [p.id for p in seed_version.passages]
