"""Crashes of the writer: `citeqa refresh` killed with SIGKILL at each checkpoint, two refreshes at once, and a
disk that refuses a write. The served index is always the last complete version; the next refresh completes
and leaves nothing behind."""

from __future__ import annotations

import os
import resource
import shutil

import pytest

from conftest import (TINY, PausedCiteqa, ServedCiteqa, assert_cites_its_version, citeqa_env, run_citeqa,
                      write_corpus)
from retrieval.index.files import versions as store
from retrieval.embed.embedders import HashingEmbedder
from retrieval.engine import Engine, ask
from retrieval.index.files.refresh import build, refresh

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

POINTS = ["embedding", "writing", "before-publish", "replacing-pointer", "after-publish"]
# One made-up keeper per checkpoint: the article that the killed refresh was adding.
KEEPERS = {"embedding": "Amberly", "writing": "Brisco", "before-publish": "Calloway",
           "replacing-pointer": "Dunmore", "after-publish": "Eskdale"}


def lighthouse(keeper: str) -> str:
    return (f"Lighthouse Of {keeper} Point Relit\n\nThe lighthouse of {keeper} Point was lit again on Monday. Its "
            f"keeper, Ada {keeper}, said the lamp had been dark for nine winters before the repairs.\n")


def assert_nothing_stray(index_dir, published: set[str]) -> None:
    """Only the pointer, the lock and published versions (at most KEEP_VERSIONS of them) are left."""
    assert sorted(os.listdir(index_dir)) == ["CURRENT", "LOCK", "versions"]
    left = set(os.listdir(index_dir / "versions"))
    assert left <= published, f"never-published versions left behind: {left - published}"
    assert len(left) <= store.KEEP_VERSIONS and store.current_name(index_dir) in left


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A corpus, its index, and `citeqa serve` answering from it; `published` is every version ever in CURRENT."""
    root = tmp_path_factory.mktemp("crash")
    corpus, index_dir = write_corpus(root / "corpus"), root / "index"
    build(corpus, index_dir, HashingEmbedder(64))
    env = citeqa_env(root, corpus, index_dir, reload_seconds="0.1")
    server = ServedCiteqa(env, root)
    try:
        server.wait_version(store.current_name(index_dir))
        yield dict(root=root, corpus=corpus, index=index_dir, env=env, server=server,
                   published={store.current_name(index_dir)})
    finally:
        server.stop()


def served_answer(server: ServedCiteqa, question: str, index_dir) -> dict:
    response = server.client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert_cites_its_version(answer, index_dir)
    return answer


@pytest.mark.parametrize("point", POINTS)
def test_refresh_killed_at_a_checkpoint_leaves_the_last_complete_version_serving(world, point):
    corpus, index_dir, server = world["corpus"], world["index"], world["server"]
    before = store.current_name(index_dir)
    keeper = KEEPERS[point]
    (corpus / f"lighthouse-{keeper.lower()}.txt").write_text(lighthouse(keeper), encoding="utf-8")
    question = f"Who is the keeper of the lighthouse of {keeper} Point?"

    paused = PausedCiteqa(["refresh"], world["env"], world["root"], point)
    try:
        if point == "after-publish":  # the pointer names the new version: that one is the last complete version
            assert store.current_name(index_dir) != before
            world["published"].add(store.current_name(index_dir))
        else:
            assert store.current_name(index_dir) == before and server.version() == before
            assert served_answer(server, "Who opened the new harbour bridge?", index_dir)["index_version"] == before
    finally:
        assert paused.kill() == -9

    last = store.current_name(index_dir)
    assert store.load_current(index_dir).name == last  # complete and verified
    server.wait_version(last)
    answer = served_answer(server, "How many tonnes of apples did farmers pick?", index_dir)
    assert answer["index_version"] == last and answer["citations"][0]["article_id"] == "orchard"

    again = run_citeqa(["refresh"], world["env"], world["root"])
    assert again.returncode == 0, again.stderr
    assert ("nothing to publish" if point == "after-publish" else "published") in again.stdout
    world["published"].add(store.current_name(index_dir))
    assert_nothing_stray(index_dir, world["published"])
    server.wait_version(store.current_name(index_dir))
    found = served_answer(server, question, index_dir)
    assert found["citations"][0]["article_id"] == f"lighthouse-{keeper.lower()}", found


def test_two_refreshes_at_once_the_second_is_busy_and_the_index_stays_intact(tmp_path):
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    build(corpus, index_dir, HashingEmbedder(64))
    before = store.current_name(index_dir)
    (corpus / "lighthouse.txt").write_text(lighthouse("Fairlie"), encoding="utf-8")
    env = citeqa_env(tmp_path, corpus, index_dir)

    first = PausedCiteqa(["refresh"], env, tmp_path, "writing")  # holds the writer lock, half-way through a version
    try:
        for command in (["refresh"], ["index"]):
            second = run_citeqa(command, env, tmp_path)
            assert second.returncode == 75, (command, second.stdout, second.stderr)
            assert "another refresh is writing" in second.stderr
        assert store.load_current(index_dir).name == before  # intact, still the one published
    finally:
        code, out = first.resume()
    assert code == 0 and "added 1" in out, "".join(first.stderr)
    after = store.load_current(index_dir)
    assert after.name != before and "lighthouse" in after.articles
    assert_nothing_stray(index_dir, {before, after.name})


def test_a_disk_that_refuses_a_write_publishes_nothing_and_the_next_run_succeeds(tmp_path):
    """A child process whose files may not grow past a limit (RLIMIT_FSIZE: Python gets EFBIG), set just under
    each file of the new version in turn, so that each file's write is the one that fails."""
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    embedder = HashingEmbedder(512)  # vectors outweigh text, so every file of a version can be the one to fail
    build(corpus, index_dir, embedder)
    before = store.current_name(index_dir)
    (corpus / "lighthouse.txt").write_text(lighthouse("Gairloch") * 3, encoding="utf-8")
    rehearsal = tmp_path / "rehearsal"
    shutil.copytree(index_dir, rehearsal)
    new_version = rehearsal / "versions" / refresh(corpus, rehearsal, embedder).version
    sizes = {f: (new_version / f).stat().st_size for f in store.FILES}
    limits = {}
    for i, name in enumerate(store.FILES):  # files are written in this order
        if max([sizes[f] for f in store.FILES[:i]], default=0) < sizes[name] - 1:
            limits[name] = sizes[name] - 1
    assert {"articles.jsonl", "vectors.npy"} <= set(limits), sizes  # the FAISS file is no larger: see below
    env = citeqa_env(tmp_path, corpus, index_dir, model="hashing-512")

    for name, limit in limits.items():
        def small_disk(limit=limit):
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        failed = run_citeqa(["refresh"], env, tmp_path, preexec_fn=small_disk)
        assert failed.returncode == 1, (name, failed.stdout, failed.stderr)
        assert "could not write the index" in failed.stderr and "nothing was published" in failed.stderr
        assert "Traceback" not in failed.stderr, failed.stderr
        assert store.current_name(index_dir) == before
        assert_nothing_stray(index_dir, {before})
        engine = Engine.open(index_dir, embedder)  # the old version loads and answers
        assert ask(engine, "Who opened the new harbour bridge?").citations[0].article_id == "harbour"

    ok = run_citeqa(["refresh"], env, tmp_path)
    assert ok.returncode == 0 and "added 1" in ok.stdout, ok.stderr
    after = store.load_current(index_dir)
    assert after.name != before and set(after.articles) == set(TINY) | {"lighthouse"}
    assert_nothing_stray(index_dir, {before, after.name})


def test_a_failed_faiss_write_publishes_nothing(tmp_path, hashing):
    """FAISS reports a failed write as RuntimeError: it too must leave no partial version and publish nothing.
    The write is made to fail by putting a folder where the file is about to go."""
    corpus, index_dir = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    before = build(corpus, index_dir, hashing).version
    (corpus / "lighthouse.txt").write_text(lighthouse("Holm"), encoding="utf-8")

    def block_the_faiss_file(point: str) -> None:
        if point == "writing":
            [partial] = (index_dir / "versions").glob(".tmp-*")
            (partial / "index.faiss").mkdir()

    with pytest.raises(OSError, match="cannot write FAISS index"):
        refresh(corpus, index_dir, hashing, checkpoint=block_the_faiss_file)
    assert store.load_current(index_dir).name == before
    assert_nothing_stray(index_dir, {before})
    after = refresh(corpus, index_dir, hashing)
    assert after.published and "lighthouse" in store.load_current(index_dir).articles
    assert_nothing_stray(index_dir, {before, after.version})
