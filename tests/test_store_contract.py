"""One contract, both stores: the file-and-FAISS versions and Milvus (milvus-lite in a temporary folder).

The same articles give the same passages, in the same order, and the same answers; adding, changing
and deleting an article, filters, reopening after a restart and a refresh killed part-way behave alike.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import NEWS, PausedCiteqa, ServedCiteqa, citeqa_env, free_port, run_citeqa, write_corpus
from retrieval.embed.embedders import HashingEmbedder
from retrieval.engine import Engine, ask, gather
from retrieval.search.ranking import search
from retrieval.errors import StoreUnavailable
from retrieval.index.connect import open_store

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

pytest.importorskip("pymilvus")

KINDS = ("files", "milvus")
QUESTIONS = [
    "Who opened the new harbour bridge?", "How much did the bridge cost?", "How many tonnes of apples were picked?",
    "Who chairs the cooperative?", "When will the library open on Sundays?", "Who steered the old ferry?",
    "What will the harbour museum keep?", "Who thanked the engineers?", "What is the capital of Peru?",
]
CAFE = ("The café on the quay, run by Inês Duarte since 2009, will close its doors on Friday after the harbour "
        "authority declined to renew its lease, the owner said.\nThe authority said the building needed repairs "
        "costing 300,000 euros and would reopen as a ferry ticket office next spring.")
FESTIVAL = ("Port Alba Holds Its First Book Festival\n\nOn September 9, 2022, Port Alba held its first book festival "
            "in the central library. The librarian, Tomas Reis, welcomed 3,000 visitors.\n")


def make_store(kind: str, root: Path):
    return open_store(root / "index", str(root / "milvus" / "citeqa.db") if kind == "milvus" else None)


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def built(kind, tmp_path):
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    store = make_store(kind, tmp_path)
    store.refresh(corpus, HashingEmbedder(64), reuse=False)
    yield corpus, store
    store.close()


def answers(engine: Engine, questions=QUESTIONS) -> list[tuple]:
    """What must not depend on the store: each answer's text, abstention, span and cited passages and sentences."""
    out = []
    for q in questions:
        a = ask(engine, q)
        out.append((q, a.abstained, a.text, a.span,
                    [(c.passage_id, c.start, c.end, [(s.start, s.end) for s in c.sentences]) for c in a.citations]))
    return out


def ranking(engine: Engine, question: str, retriever: str) -> list[str]:
    return [h.passage.id for h in search(engine.index, engine.embedder, question, k=10, retriever=retriever)]


def test_the_same_articles_give_the_same_passages_ranks_and_answers_in_both_stores(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    engines = {}
    for kind in KINDS:
        store = make_store(kind, tmp_path)
        report = store.refresh(corpus, HashingEmbedder(64), reuse=False)
        assert report.published and report.articles == len(NEWS) and report.embedded == report.passages
        engines[kind] = Engine.open(store, HashingEmbedder(64))
    files, milvus = engines["files"].index, engines["milvus"].index
    assert milvus.passage_count == files.passage_count and list(milvus.articles) == list(files.articles)
    for article_id in files.articles:
        assert milvus.passages_of(article_id) == files.passages_of(article_id)
        assert milvus.articles[article_id] == files.articles[article_id]
        for p in files.passages_of(article_id):
            assert milvus.sentences_of(p) == files.sentences_of(p) and milvus.passage(p.id) == p
    assert dict(milvus.sparse) == pytest.approx(dict(files.sparse))
    assert milvus.speller.names == files.speller.names
    for q in QUESTIONS:
        for retriever in ("dense", "bm25", "hybrid"):
            assert ranking(engines["milvus"], q, retriever) == ranking(engines["files"], q, retriever), (q, retriever)
    assert answers(engines["milvus"]) == answers(engines["files"])
    for store in (e.store for e in engines.values()):
        store.close()


def test_an_added_changed_and_deleted_article_is_what_the_next_question_sees(built, kind):
    corpus, store = built
    engine = Engine.open(store, HashingEmbedder(64))
    first = engine.index.name
    (corpus / "festival.txt").write_text(FESTIVAL, encoding="utf-8")
    (corpus / "ferry.txt").unlink()
    (corpus / "orchard.txt").write_text("Apple Harvest Breaks Record\n\nFarmers in the Vale district picked "
                                        "15,500 tonnes of apples this autumn.\n", encoding="utf-8")
    report = store.refresh(corpus, HashingEmbedder(64))
    assert (report.added, report.changed, report.removed) == (("festival",), ("orchard",), ("ferry",))
    assert report.embedded == len(engine.store.load(store.current_name()).passages_of("festival")) + 1
    assert engine.reload() and engine.index.name != first
    index = engine.index
    assert "ferry" not in index.articles and index.passages_of("ferry") == []
    assert [p.id for p in index.passages_of("orchard")] == ["orchard#0"]  # the longer version's other passages are gone
    assert index.passage_count == sum(len(index.passages_of(a)) for a in index.articles)
    assert "rui" not in index.speller.names and "lopes" not in index.sparse  # the removed article's terms left with it
    festival = ask(engine, "How many visitors did the book festival welcome?")
    assert festival.citations and festival.citations[0].article_id == "festival"
    assert "15,500" in ask(engine, "How many tonnes of apples were picked?").text
    assert all(c.article_id != "ferry" for c in ask(engine, "Who steered the old ferry?").citations)
    again = store.refresh(corpus, HashingEmbedder(64))
    assert not again.published and again.embedded == 0  # nothing changed: nothing embedded, nothing published


def test_a_refresh_equals_a_fresh_build_of_the_same_folder(built, kind, tmp_path):
    corpus, store = built
    (corpus / "festival.txt").write_text(FESTIVAL, encoding="utf-8")
    (corpus / "library.txt").unlink()
    store.refresh(corpus, HashingEmbedder(64))
    fresh = make_store(kind, tmp_path / "fresh")
    fresh.refresh(corpus, HashingEmbedder(64), reuse=False)
    refreshed, rebuilt = Engine.open(store, HashingEmbedder(64)), Engine.open(fresh, HashingEmbedder(64))
    assert [p.id for a in rebuilt.index.articles for p in rebuilt.index.passages_of(a)] == \
        [p.id for a in refreshed.index.articles for p in refreshed.index.passages_of(a)]
    assert dict(refreshed.index.sparse) == pytest.approx(dict(rebuilt.index.sparse))
    assert answers(refreshed) == answers(rebuilt)
    fresh.close()


def test_filters_by_article_and_date_hold_in_both_stores(built, kind):
    corpus, store = built
    (corpus / "festival.txt").write_text(FESTIVAL, encoding="utf-8")
    store.refresh(corpus, HashingEmbedder(64))
    engine = Engine.open(store, HashingEmbedder(64))
    index = engine.index
    assert index.published_between("2021-01-01", "2021-12-31") == {"harbour"}
    assert index.published_between("2019-01-01", "2022-12-31") == {"harbour", "ferry", "festival"}
    only = ask(engine, "Who opened the new harbour bridge?", article_ids={"library", "orchard"})
    assert {c.article_id for c in only.citations} <= {"library", "orchard"}
    g = gather(engine, "Who is the librarian?", article_ids={"festival"})
    assert g.hits and {h.passage.article_id for h in g.hits} == {"festival"}
    assert gather(engine, "Who is the librarian?", article_ids={"no-such-article"}).hits == []


def test_a_web_articles_url_date_and_other_sources_are_kept_and_cited_in_both_stores(built, kind):
    import json

    from retrieval.web.article_file import Source, render
    from retrieval.web.ledger import LEDGER_FILE

    corpus, store = built
    url, copy = "https://news.example.org/2024/quay-cafe", "https://wire.example.com/quay-cafe"
    (corpus / "cafe.txt").write_text(render("Quay Café Closes", Source(url, "2024-03-05", "Ana Reis", "Port Alba Times"),
                                            CAFE), encoding="utf-8")
    store.refresh(corpus, HashingEmbedder(64))
    engine = Engine.open(store, HashingEmbedder(64))
    article = engine.index.articles["cafe"]
    assert (article.url, article.published, article.author, article.site, article.sources) == \
        (url, "2024-03-05", "Ana Reis", "Port Alba Times", ())
    assert engine.index.published_between("2024-01-01", "2024-12-31") == {"cafe"}  # the header's date filters
    assert engine.index.articles["harbour"].url is None  # a hand-written article has none
    # A wire copy found later (the ledger) joins the article's sources: one changed article, one new record.
    ledger = {"format": 1, "feeds": {}, "entries": {copy: {"status": "duplicate", "duplicate_of": "cafe", "url": copy,
                                                           "feeds": ["https://wire.example.com/atom"]}}}
    (corpus / LEDGER_FILE).write_text(json.dumps(ledger), encoding="utf-8")
    report = store.refresh(corpus, HashingEmbedder(64))
    assert report.changed == ("cafe",) and engine.reload()
    assert engine.index.articles["cafe"].sources == (copy,)
    [citation] = ask(engine, "Who has run the café on the quay since 2009?").citations
    assert (citation.article_id, citation.url, citation.published, citation.sources) == \
        ("cafe", url, "2024-03-05", (copy,))


def test_a_store_reopened_after_a_restart_serves_the_same_answers(built, kind, tmp_path):
    corpus, store = built
    before = Engine.open(store, HashingEmbedder(64))
    expected, name = answers(before), before.index.name
    store.close()
    reopened = make_store(kind, tmp_path)
    after = Engine.open(reopened, HashingEmbedder(64))
    assert after.index.name == name and answers(after) == expected
    reopened.close()


def test_a_refresh_killed_part_way_is_made_whole_by_the_next(kind, tmp_path):
    root = tmp_path
    corpus = write_corpus(root / "corpus", NEWS)
    settings = {"store_uri": str(root / "milvus" / "citeqa.db")} if kind == "milvus" else {}
    env = citeqa_env(root, corpus, root / "index", **settings)
    assert run_citeqa(["index"], env, root).returncode == 0
    (corpus / "festival.txt").write_text(FESTIVAL, encoding="utf-8")
    (corpus / "harbour.txt").write_text((corpus / "harbour.txt").read_text() + "The bridge is 800 metres long.\n")
    paused = PausedCiteqa(["refresh"], env, root, "writing")  # one of the two articles written, the other not
    assert paused.kill() == -9
    again = run_citeqa(["refresh"], env, root)
    assert again.returncode == 0 and "published" in again.stdout, again.stderr
    store = make_store(kind, root)
    engine = Engine.open(store, HashingEmbedder(64))
    fresh = make_store(kind, root / "fresh")
    fresh.refresh(corpus, HashingEmbedder(64), reuse=False)
    rebuilt = Engine.open(fresh, HashingEmbedder(64))
    for a in rebuilt.index.articles:
        assert engine.index.passages_of(a) == rebuilt.index.passages_of(a) or \
            [(p.id, p.text) for p in engine.index.passages_of(a)] == [(p.id, p.text) for p in rebuilt.index.passages_of(a)]
    assert set(engine.index.articles) == set(rebuilt.index.articles)
    assert answers(engine, QUESTIONS + ["How long is the bridge?"]) == answers(rebuilt, QUESTIONS + ["How long is the bridge?"])
    store.close(), fresh.close()


# Bad input: one clear line naming the setting; nothing published, nothing deleted.

def test_an_unreachable_milvus_uri_leaves_the_engine_not_ready_with_one_line_naming_the_setting(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    engine = Engine(open_store(tmp_path / "index", uri), HashingEmbedder(64))
    with pytest.raises(StoreUnavailable) as refused:
        engine.reload()
    assert str(refused.value).startswith(f"CITEQA_STORE_URI={uri}") and "\n" not in str(refused.value)
    assert not engine.ready and engine.load_error == str(refused.value)


def test_citeqa_ask_and_index_fail_with_one_line_for_an_unreachable_or_unknown_store(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    for uri in (f"http://127.0.0.1:{free_port()}", "ftp://example.org/citeqa"):
        env = citeqa_env(tmp_path, corpus, tmp_path / "index", store_uri=uri)
        for command in (["ask", "Who opened the bridge?"], ["index"]):
            done = run_citeqa(command, env, tmp_path)
            assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
            assert f"CITEQA_STORE_URI={uri!r}" in done.stderr or f"CITEQA_STORE_URI={uri}" in done.stderr, done.stderr
    assert not (tmp_path / "index").exists()


def test_a_collection_of_another_dimension_is_refused_and_the_loaded_snapshot_keeps_serving(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    store = make_store("milvus", tmp_path)
    store.refresh(corpus, HashingEmbedder(64), reuse=False)
    engine = Engine.open(store, HashingEmbedder(64))
    serving = engine.index.name
    generation = serving.partition(".")[0]
    record = store._meta(f"{generation}/corpus")
    store._upsert_meta([(f"{generation}/corpus", {**record, "dimension": 32, "revision": record["revision"] + 1})])
    with pytest.raises(StoreUnavailable, match="CITEQA_STORE_URI=.*dimension 64.*says 32"):
        engine.reload()
    assert engine.ready and engine.index.name == serving and ask(engine, "Who opened the new harbour bridge?").citations
    (corpus / "festival.txt").write_text(FESTIVAL, encoding="utf-8")
    with pytest.raises(StoreUnavailable, match="CITEQA_STORE_URI=.*dimension 64.*says 32"):
        store.refresh(corpus, HashingEmbedder(64))
    assert sorted(store._hashes(generation)) == sorted(NEWS)  # nothing written or deleted
    store.close()


def test_a_model_of_another_dimension_rebuilds_a_new_generation(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    store = make_store("milvus", tmp_path)
    first = store.refresh(corpus, HashingEmbedder(64), reuse=False).version
    other = HashingEmbedder(32)
    report = store.refresh(corpus, other)
    assert report.published and report.version.partition(".")[0] != first.partition(".")[0]
    assert report.embedded == report.passages
    assert Engine.open(store, other).index.model == other.name
    store.close()


def test_a_rebuild_switches_generations_and_keeps_only_the_one_it_replaced(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    store = make_store("milvus", tmp_path)
    names = [store.refresh(corpus, HashingEmbedder(64), reuse=False).version.partition(".")[0] for _ in range(3)]
    engine_on_second = store.load(f"{names[1]}.1")  # what a server that has not reloaded yet still reads
    assert store.current_name() == f"{names[2]}.1"
    held = {n.split("_")[1] for n in store.client.list_collections() if n != store.meta}
    assert held == {names[1], names[2]}
    assert engine_on_second.passages_of("harbour")
    store.close()


def test_citeqa_serve_answers_from_a_milvus_lite_store(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    env = citeqa_env(tmp_path, corpus, tmp_path / "index", store_uri=str(tmp_path / "m" / "citeqa.db"))
    built = run_citeqa(["index"], env, tmp_path)
    assert built.returncode == 0, built.stderr
    server = ServedCiteqa(env, tmp_path)
    try:
        server.wait(lambda: server.version() is not None, "the server to be ready")
        answer = server.client.post("/v1/ask", json={"question": "Who opened the new harbour bridge?"}).json()
        assert answer["citations"][0]["article_id"] == "harbour" and answer["index_version"] == server.version()
        article = server.client.get("/v1/articles/harbour").json()
        quote = answer["citations"][0]["sentences"][0]
        assert article["text"][quote["start"]:quote["end"]] in answer["text"]
    finally:
        server.stop()


class LiteServer:
    """milvus-lite's own server binary on 127.0.0.1: the same MilvusClient code as a standalone or cluster."""

    def __init__(self, db: Path):
        from milvus_lite.server import Server

        self.db, self.port, self.Server = db, free_port(), Server
        self.uri = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> "LiteServer":
        self.server = self.Server(str(self.db), f"127.0.0.1:{self.port}")
        if not self.server.start():
            pytest.skip("milvus-lite's server did not start here")
        deadline = time.monotonic() + 30
        while True:  # it takes a moment to listen
            probe = open_store(self.db.parent / "unused", self.uri)
            try:
                probe.current_name()
                return self
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            finally:
                probe.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def lite_server(tmp_path):
    server = LiteServer(tmp_path / "server.db").start()
    yield server
    server.stop()


@pytest.mark.milvus_server
def test_the_http_uri_reaches_a_milvus_server_on_loopback(lite_server, tmp_path):
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    store = open_store(tmp_path / "index", lite_server.uri)
    store.refresh(corpus, HashingEmbedder(64), reuse=False)
    local = make_store("files", tmp_path)
    local.refresh(corpus, HashingEmbedder(64), reuse=False)
    assert answers(Engine.open(store, HashingEmbedder(64))) == answers(Engine.open(local, HashingEmbedder(64)))
    store.close()


@pytest.mark.milvus_server
def test_a_milvus_server_gone_mid_service_is_a_503_and_a_plain_telegram_reply_and_serving_resumes(
        lite_server, bot_api, tmp_path):
    from botapi import RunningBot
    from fastapi.testclient import TestClient

    from bot.api.app import create_app
    from bot.conversation_store import ConversationStore
    from bot.settings import Settings
    from bot.telegram.transport import build_application

    corpus = write_corpus(tmp_path / "corpus", NEWS)
    store = open_store(tmp_path / "index", lite_server.uri)
    store.refresh(corpus, HashingEmbedder(64), reuse=False)
    engine = Engine.open(store, HashingEmbedder(64))
    question = {"question": "Who opened the new harbour bridge?"}
    settings = Settings(_env_file=None, telegram_token=bot_api.token, telegram_api_url=bot_api.url,
                        reload_seconds=3600, conversations=tmp_path / "c.sqlite", rate_limit_per_minute=0)
    conversations = ConversationStore(tmp_path / "telegram.sqlite")
    with TestClient(create_app(engine, settings)) as client, \
            RunningBot(build_application(bot_api.token, engine, conversations, settings)):
        assert client.post("/v1/ask", json=question).status_code == 200
        lite_server.stop()
        down = client.post("/v1/ask", json=question)
        assert down.status_code == 503 and down.json()["detail"].startswith(f"CITEQA_STORE_URI={lite_server.uri}")
        since = bot_api.mark()
        bot_api.say(question["question"])
        [reply] = bot_api.wait_replies(1, since)
        assert reply["text"] == "I can't reach my articles right now: please try again in a minute."
        lite_server.start()  # the same file: the next question reconnects
        again = client.post("/v1/ask", json=question)
        assert again.status_code == 200 and again.json()["citations"][0]["article_id"] == "harbour"
    conversations.close()
    store.close()


@pytest.fixture
def milvus_with_tokens(tmp_path):
    """The PyPI `milvus` package's standalone server (older than our store needs for BM25, but it checks
    tokens) with authorization on, on 127.0.0.1: its user is root:Milvus."""
    milvus = pytest.importorskip("milvus", reason="the `milvus` package (a standalone server) is not installed")
    server = milvus.MilvusServer()
    server.config.set("authorization_enabled", True)
    server.set_base_dir(str(tmp_path / "milvus-server"))
    server.listen_port = free_port()
    try:
        server.start()
    except Exception as err:  # noqa: BLE001 — whatever stops it starting here, the test cannot run
        server.stop()
        pytest.skip(f"the Milvus standalone server did not start here: {err}")
    try:
        yield f"http://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()


@pytest.mark.milvus_server
def test_a_wrong_or_missing_token_is_one_line_naming_the_setting_and_nothing_is_published(milvus_with_tokens, tmp_path):
    uri = milvus_with_tokens
    for token, says in (("root:wrong", "refused CITEQA_STORE_TOKEN"), (None, "set CITEQA_STORE_TOKEN")):
        engine = Engine(open_store(tmp_path / "index", uri, token), HashingEmbedder(64))
        with pytest.raises(StoreUnavailable) as refused:
            engine.reload()
        line = str(refused.value)
        assert line.startswith(f"CITEQA_STORE_URI={uri}") and says in line and "\n" not in line, line
        assert not engine.ready and engine.load_error == line
    corpus = write_corpus(tmp_path / "corpus", NEWS)
    env = {**citeqa_env(tmp_path, corpus, tmp_path / "index", store_uri=uri), "CITEQA_STORE_TOKEN": "root:wrong"}
    for command in (["index"], ["refresh"], ["ask", "Who opened the bridge?"]):
        done = run_citeqa(command, env, tmp_path)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        assert "refused CITEQA_STORE_TOKEN" in done.stderr and "root:wrong" not in done.stderr, done.stderr
    right = open_store(tmp_path / "index", uri, "root:Milvus")  # the server's own user: it connects
    assert right.current_name() is None and right.client.list_collections() == []  # nothing was written
    right.close()
    assert not (tmp_path / "index").exists()
