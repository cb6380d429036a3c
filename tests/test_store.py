"""The on-disk index: a version that lacks a file or disagrees with its manifest is refused."""

import json

import numpy as np
import pytest

from retrieval.index.files import versions as store
from retrieval.errors import IndexCorrupt, IndexNotFound
from retrieval.index.files.refresh import build


@pytest.fixture
def built(tiny_corpus, tmp_path, hashing):
    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, hashing)
    return index_dir, index_dir / "versions" / store.current_name(index_dir)


def test_round_trip(built):
    index_dir, _ = built
    version = store.load_current(index_dir)
    assert len(version.passages) == version.vectors.shape[0] == len(version.dense)
    for p in version.passages:
        assert version.articles[p.article_id].text[p.start:p.end] == p.text
    assert np.allclose(np.linalg.norm(version.vectors, axis=1), 1.0, atol=1e-5)


def test_no_index_yet(tmp_path):
    with pytest.raises(IndexNotFound, match="citeqa index"):
        store.load_current(tmp_path)


@pytest.mark.parametrize("name", store.FILES + ("manifest.json",))
def test_missing_file_is_refused(built, name):
    _, version = built
    (version / name).unlink()
    with pytest.raises(IndexCorrupt, match=name):
        store.load_version(version)


@pytest.mark.parametrize("name", store.FILES)
def test_tampered_file_is_refused(built, name):
    _, version = built
    data = (version / name).read_bytes()
    (version / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupt, match=name):
        store.load_version(version)


def test_manifest_that_disagrees_is_refused(built):
    _, version = built
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["dimension"] = 999
    (version / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt, match="manifest says"):
        store.load_version(version)


@pytest.mark.parametrize("written", [0, store.FORMAT_VERSION + 1, None])
def test_a_version_of_another_format_is_refused_with_the_command_that_rebuilds_it(built, written):
    index_dir, version = built
    manifest = json.loads((version / "manifest.json").read_text())
    if written is None:
        del manifest["format"]  # written before versions said their format
    else:
        manifest["format"] = written
    (version / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt, match=rf"format {written!r}, but this citeqa reads format "
                                           rf"{store.FORMAT_VERSION}: rebuild it with `citeqa index`"):
        store.load_current(index_dir)


def test_garbage_manifest_is_refused(built):
    _, version = built
    (version / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="manifest"):
        store.load_version(version)


def test_publish_leaves_no_temporary_files(built):
    index_dir, _ = built
    assert not list((index_dir / "versions").glob(".tmp-*"))
    assert not (index_dir / "CURRENT.tmp").exists()


def test_passages_are_found_by_id_and_by_article_and_articles_are_read_whole_when_asked(built, tiny_corpus):
    index_dir, _ = built
    version = store.load_current(index_dir)
    for p in version.passages:
        assert version.passage(p.id) == p
        assert p in version.passages_of(p.article_id)
    for wrong in ["", "#", "#0", "harbour", "harbour#", "harbour#-1", "harbour#99", "harbour#0x1", "nobody#0",
                  "harbour#0#0", "harbour #0"]:
        assert version.passage(wrong) is None, wrong
    assert version.passages_of("nobody") == []
    assert sum(len(version.passages_of(a)) for a in version.articles) == len(version.passages)
    for path in sorted(tiny_corpus.iterdir()):
        article = version.articles[path.stem]
        assert article.text == path.read_text(encoding="utf-8") and article.id == path.stem
    assert "nobody" not in version.articles
    with pytest.raises(KeyError):
        version.articles["nobody"]


def test_a_loaded_version_still_reads_its_articles_after_a_refresh_prunes_its_folder(built, tiny_corpus):
    import shutil

    index_dir, path = built
    version = store.load_current(index_dir)
    shutil.rmtree(path)  # what prune does to a version three refreshes old, while a server may still hold it
    for article_id in version.articles:
        assert version.articles[article_id].text == (tiny_corpus / f"{article_id}.txt").read_text(encoding="utf-8")
    assert set(version.articles.hashes()) == set(version.articles)
    assert version.text.sentences.sentences(0) and version.dense.search(version.vectors[0], 1)


def test_passages_out_of_article_order_with_a_text_index_made_for_that_order_are_refused(built, tmp_path):
    from retrieval.index.files.text_index import TextIndex

    index_dir, _ = built
    version = store.load_current(index_dir)
    before = store.current_name(index_dir)
    passages = version.passages[::-1]  # not article after article in id order
    with pytest.raises(ValueError, match="article after article"):
        store.write_version(index_dir, [version.articles[a] for a in version.articles], passages,
                            np.asarray(version.vectors)[::-1], model=version.model, settings=version.manifest["settings"],
                            next_row=version.manifest["next_row"], text=TextIndex.build(passages))
    assert store.current_name(index_dir) == before
