"""Articles that change while a refresh reads them, and folders with links out of them: skipped with a warning,
picked up by the next refresh, nothing else lost; links never followed outside the folder."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time

from conftest import TINY, citeqa_env, run_citeqa, write_corpus
from retrieval.index.files import versions as store
from retrieval.index.files.refresh import build, refresh

STABLE = sorted(TINY)  # harbour, library, orchard: never touched while the folder changes around them


def indexed(index_dir) -> dict[str, str]:
    """article id -> the sha256 of the content indexed for it."""
    return store.load_current(index_dir).articles.hashes()


def test_a_file_caught_empty_mid_rewrite_keeps_its_indexed_version_until_it_is_readable(tiny_corpus, tmp_path, hashing,
                                                                                      caplog):
    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, hashing)
    before = store.load_current(index_dir)
    with open(tiny_corpus / "library.txt", "w", encoding="utf-8") as writer:  # truncated, nothing written yet
        with caplog.at_level(logging.WARNING):
            report = refresh(tiny_corpus, index_dir, hashing)
        assert [s.reason for s in report.skipped] == ["empty (no text)"] and report.held == ("library",)
        assert "kept library as last indexed" in caplog.text
        assert not report.published and [p.id for p in store.load_current(index_dir).passages] == [p.id for p in before.passages]
        writer.write("City Library Closes For Repairs\n\nThe central library of Port Alba will close in July.\n")
    report = refresh(tiny_corpus, index_dir, hashing)
    assert report.changed == ("library",) and not report.skipped and report.published
    assert "close in July" in store.load_current(index_dir).articles["library"].text


def test_a_half_written_file_waits_for_the_settle_time_then_is_read_whole(tiny_corpus, tmp_path, hashing):
    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, hashing)
    settled = time.time() - 60
    for article in tiny_corpus.iterdir():  # written a minute ago: settled
        os.utime(article, (settled, settled))
    whole = "Ferry Returns\n\nThe night ferry to Lisbon runs again from June, three times a week.\n"
    path = tiny_corpus / "ferry.txt"
    path.write_text(whole[:30], encoding="utf-8")  # a writer part-way through
    env = citeqa_env(tmp_path, tiny_corpus, index_dir, article_settle_seconds="30")
    first = run_citeqa(["refresh"], env, tmp_path)
    assert first.returncode == 0 and "skipped 1" in first.stdout and "nothing to publish" in first.stdout, first
    assert "ferry.txt: modified" in first.stderr and "still be being written" in first.stderr
    path.write_text(whole, encoding="utf-8")
    os.utime(path, (settled, settled))  # the writer finished a minute ago
    second = run_citeqa(["refresh"], env, tmp_path)
    assert second.returncode == 0 and "added 1" in second.stdout, second
    assert store.load_current(index_dir).articles["ferry"].text == whole
    assert set(indexed(index_dir)) == set(STABLE) | {"ferry"}


def test_files_rewritten_and_deleted_while_refreshes_read_them_lose_nothing_else(tiny_corpus, tmp_path, hashing):
    """A writer rewrites one file in place and creates and deletes another, as fast as it can, while refreshes
    run: every refresh completes, the stable articles never change, and what is indexed of the busy files is
    always one of their complete contents."""
    index_dir = tmp_path / "index"
    build(tiny_corpus, index_dir, hashing)
    stable = indexed(index_dir)
    contents = {f"Busy Article\n\nVersion {k} of the busy article says {'many words ' * (50 * k + 1)}.\n"
                for k in range(1, 4)}
    complete = {hashlib.sha256(c.encode()).hexdigest() for c in contents}
    blink = "Blink Article\n\nThis article appears and disappears.\n"
    blink_hash = hashlib.sha256(blink.encode()).hexdigest()
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            for content in contents:
                (tiny_corpus / "busy.txt").write_text(content, encoding="utf-8")
                (tiny_corpus / "blink.txt").write_text(blink, encoding="utf-8")
                (tiny_corpus / "blink.txt").unlink()

    thread = threading.Thread(target=writer)
    thread.start()
    skipped = set()
    try:
        for _ in range(40):
            report = refresh(tiny_corpus, index_dir, hashing)
            skipped |= {s.reason for s in report.skipped}
            now = indexed(index_dir)
            assert {a: now[a] for a in STABLE} == stable
            assert now.get("busy", next(iter(complete))) in complete
            assert now.get("blink", blink_hash) == blink_hash
    finally:
        stop.set()
        thread.join(timeout=60)
    assert skipped <= {"empty (no text)", "vanished while being read", "changed while being read; a later refresh reads it"}
    report = refresh(tiny_corpus, index_dir, hashing)  # the folder at rest: read whole
    assert not report.skipped and "blink" not in indexed(index_dir) and indexed(index_dir)["busy"] in complete


def test_symbolic_links_out_of_the_folder_are_not_followed_end_to_end(tmp_path):
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret Payroll\n\nThe payroll password of Zanzibar Holdings is hunter2.\n")
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "private.md").symlink_to(outside)  # a folder outside, named like an article
    (corpus / "also-harbour.txt").symlink_to(corpus / "harbour.txt")  # inside the folder: read
    env = citeqa_env(tmp_path, corpus, tmp_path / "index")

    indexed_run = run_citeqa(["index"], env, tmp_path)
    assert indexed_run.returncode == 0 and "indexed 4 articles" in indexed_run.stdout, indexed_run
    assert "skipped 2 files" in indexed_run.stdout
    assert indexed_run.stderr.count("symbolic link pointing outside the folder") == 2
    assert set(store.load_current(tmp_path / "index").articles) == set(STABLE) | {"also-harbour"}
    asked = run_citeqa(["ask", "--json", "What is the payroll password of Zanzibar Holdings?"], env, tmp_path)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert "hunter2" not in asked.stdout and all(c["article_id"] != "secret" for c in answer["citations"])
