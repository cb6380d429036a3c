"""The refresh job: only what changed is embedded, and unchanged vectors stay byte for byte."""

import numpy as np
import pytest

from retrieval.index.files import versions as store
from retrieval.embed.embedders import SentenceTransformerEmbedder
from retrieval.errors import RefreshBusy
from retrieval.index.files.refresh import build, refresh


class CountingEmbedder:
    """The hashing embedder, recording every text it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.texts = inner, inner.name, []

    @property
    def dimension(self):
        return self.inner.dimension

    def encode(self, texts, batch_size=32):
        self.texts.extend(texts)
        return self.inner.encode(texts)


def vectors_by_article(index_dir):
    version = store.load_current(index_dir)
    return {a: version.vectors[list(version.positions_of(a))].tobytes() for a in version.articles}, version


def test_build_then_unchanged_refresh_publishes_nothing(tiny_corpus, tmp_path, hashing):
    index_dir = tmp_path / "index"
    first = build(tiny_corpus, index_dir, hashing)
    assert first.published and first.articles == 3 and first.embedded == first.passages
    again = refresh(tiny_corpus, index_dir, CountingEmbedder(hashing))
    assert not again.published and again.embedded == 0
    assert again.unchanged == ("harbour", "library", "orchard")
    assert store.current_name(index_dir) == first.version


def test_unchanged_refresh_never_loads_the_model(tiny_corpus, tmp_path):
    index_dir = tmp_path / "index"
    model = SentenceTransformerEmbedder()
    # Built with a stand-in that carries the real model's name, so the manifest matches.
    stand_in = CountingEmbedder(__import__("retrieval.embed.embedders", fromlist=["HashingEmbedder"]).HashingEmbedder(32))
    stand_in.name = model.name
    build(tiny_corpus, index_dir, stand_in)
    report = refresh(tiny_corpus, index_dir, model)
    assert not report.published
    assert model._model is None  # never loaded


@pytest.mark.parametrize("change", ["add", "edit", "delete"])
def test_one_article_changed_embeds_only_that_article(tiny_corpus, tmp_path, hashing, change):
    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, hashing)
    before, old = vectors_by_article(index_dir)
    if change == "add":
        (tiny_corpus / "ferry.txt").write_text("Ferry Returns\n\nThe night ferry to Lisbon runs again from June.")
    elif change == "edit":
        (tiny_corpus / "orchard.txt").write_text("Apple Harvest Falls\n\nThe harvest fell to 8,000 tonnes.")
    else:
        (tiny_corpus / "library.txt").unlink()
    counting = CountingEmbedder(hashing)
    report = refresh(tiny_corpus, index_dir, counting)
    after, new = vectors_by_article(index_dir)
    touched = {"add": "ferry", "edit": "orchard", "delete": "library"}[change]
    assert report.published and report.version != old.name
    assert {"add": report.added, "edit": report.changed, "delete": report.removed}[change] == (touched,)
    if change == "delete":
        assert counting.texts == [] and touched not in after
    else:
        assert counting.texts and all(t.startswith(new.articles[touched].title) for t in counting.texts)
        assert len(counting.texts) == len(new.passages_of(touched))
    for article in set(before) - {touched}:
        assert after[article] == before[article]  # byte-identical
        assert [p.row for p in new.passages_of(article)] == [p.row for p in old.passages_of(article)]
    # Stable ids: the FAISS index finds the same rows for an unchanged article's own vector.
    unchanged = next(iter(set(before) - {touched}))
    row = new.passages_of(unchanged)[0].row
    assert new.dense.search(new.vectors[new.position[row]], 1)[0][0] == row


def test_a_second_refresh_while_one_runs_is_busy(tiny_corpus, tmp_path, hashing):
    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, hashing)
    with store.writer_lock(index_dir):
        with pytest.raises(RefreshBusy, match="another refresh"):
            refresh(tiny_corpus, index_dir, hashing)
    assert refresh(tiny_corpus, index_dir, hashing).articles == 3  # free again afterwards


def test_old_versions_are_pruned_but_current_is_kept(tiny_corpus, tmp_path, hashing):
    index_dir = tmp_path / "index"
    for n in range(5):
        (tiny_corpus / "counter.txt").write_text(f"Counter\n\nThe counter reads {n}.")
        build(tiny_corpus, index_dir, hashing)
    names = sorted(p.name for p in (index_dir / "versions").iterdir())
    assert len(names) == store.KEEP_VERSIONS and store.current_name(index_dir) == names[-1]


def test_model_change_rebuilds_everything(tiny_corpus, tmp_path, hashing):
    from retrieval.embed.embedders import HashingEmbedder

    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, hashing)
    other = CountingEmbedder(HashingEmbedder(32))
    report = refresh(tiny_corpus, index_dir, other)
    assert report.published and report.embedded == report.passages
    assert store.load_current(index_dir).manifest["dimension"] == 32


def test_each_passage_keeps_its_own_vector_though_embedding_runs_longest_first(seeds_copy, tmp_path, hashing):
    from retrieval.index.refresh import embed_passages, embedding_text

    build(seeds_copy, tmp_path / "index", hashing)
    version = store.load_current(tmp_path / "index")
    lengths = [len(embedding_text(p)) for p in version.passages]
    assert lengths != sorted(lengths, reverse=True)  # the order the embedder saw differs from this one
    for i, passage in enumerate(version.passages):
        assert np.array_equal(version.vectors[i], hashing.encode([embedding_text(passage)])[0])
    small_chunks = embed_passages(hashing, version.passages, None, batch=3)
    assert np.array_equal(small_chunks, version.vectors)
