"""The HTTP API through FastAPI's TestClient: every route, every error, over a small real index."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from bot import runtime
from bot.api.app import STATIC, create_app
from bot.conversation_store import ConversationStore
from bot.api.limits import TokenBuckets
from bot.api.schemas import AskOut
from bot.settings import Settings
from retrieval.index.files import versions as store
from retrieval.index.files.snapshot import FileSnapshot
from retrieval.embed.embedders import HashingEmbedder
from retrieval.index.files.refresh import build
from retrieval.index.files.refresh import refresh as refresh_index
from tests.conftest import write_corpus

ADMIN = "s3cret-admin-token"
APPLES = "How many tonnes of apples did farmers in the Vale district pick?"
BRIDGE = "Who opened the new harbour bridge of Port Alba?"
FERRY = "How many years did the captain steer the old ferry of Port Alba?"
OFF_TOPIC = "What is the capital of Mongolia?"

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`


def make_settings(tmp_path: Path, corpus: Path, index: Path, **overrides) -> Settings:
    values = dict(corpus=corpus, index=index, model="hashing-256", conversations=tmp_path / "conversations.sqlite",
                  reload_seconds=0.05, rate_limit_per_minute=0, admin_token=None)
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture
def settings(tmp_path, news_index) -> Settings:
    return make_settings(tmp_path, *news_index, admin_token=ADMIN)


@pytest.fixture
def client(settings, wait_until):
    # No engine passed: the lifespan builds it from the settings and loads the index, as `citeqa serve` does.
    with TestClient(create_app(settings=settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, "the index to load")
        yield client


def ask(client, question, **fields):
    response = client.post("/v1/ask", json={"question": question, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_answer_cites_the_exact_characters_of_its_article(client):
    answer = ask(client, APPLES)
    assert not answer["abstained"] and "12,000 tonnes" in answer["text"] and answer["text"].endswith("[1]")
    [citation] = [c for c in answer["citations"] if c["n"] == 1]
    assert citation["article_id"] == "orchard" and citation["title"] == "Apple Harvest Breaks Record"
    article = client.get("/v1/articles/orchard").json()
    assert article["text"][citation["start"]:citation["end"]] == citation["quote"]
    assert citation["passage_id"] in {s["id"] for s in article["spans"]}
    assert answer["turn"] == 1 and re.fullmatch(r"[0-9a-f]{32}", answer["conversation_id"])
    assert answer["index_version"] == client.get("/readyz").json()["index_version"]
    assert answer["seconds"] >= 0 and answer["question"] == APPLES


def test_each_citation_gives_the_offsets_of_exactly_the_sentences_quoted(client):
    for question in (APPLES, BRIDGE, FERRY):
        answer = ask(client, question)
        quoted = []
        for citation in answer["citations"]:
            text = client.get(f"/v1/articles/{citation['article_id']}").json()["text"]
            assert citation["sentences"], citation
            for sentence in citation["sentences"]:
                assert citation["start"] <= sentence["start"] < sentence["end"] <= citation["end"]
                quoted.append(f"{' '.join(text[sentence['start']:sentence['end']].split())} [{citation['n']}]")
        # the answer is those sentences, each followed by its number, and nothing else
        assert sorted(quoted) == sorted(re.findall(r"[^\[\]]+? \[\d+\]", answer["text"]))
        assert " ".join(quoted) == answer["text"] or len(answer["citations"]) > 1


def test_a_followup_continues_the_conversation_and_survives_a_restart(client, settings, wait_until):
    first = ask(client, BRIDGE)
    assert first["citations"][0]["article_id"] == "harbour"
    followup = ask(client, "How much did it cost?", conversation_id=first["conversation_id"])
    assert followup["turn"] == 2 and "harbour bridge" in followup["search_query"]
    assert "40 million euros" in followup["text"]
    assert [t.question for t in client.app.state.conversations.history("api:" + first["conversation_id"])] == [
        BRIDGE, "How much did it cost?"]
    with TestClient(create_app(settings=settings)) as again:
        wait_until(lambda: again.get("/readyz").status_code == 200, "the restarted server's index to load")
        assert ask(again, "And who thanked the engineers?", conversation_id=first["conversation_id"])["turn"] == 3


def test_a_client_may_name_its_conversation_and_forget_it(client):
    assert ask(client, BRIDGE, conversation_id="web-chat.1")["turn"] == 1
    assert ask(client, "How much did it cost?", conversation_id="web-chat.1")["turn"] == 2
    assert client.delete("/v1/conversations/web-chat.1").status_code == 204
    assert client.app.state.conversations.history("api:web-chat.1") == []
    assert ask(client, APPLES, conversation_id="web-chat.1")["turn"] == 1
    missing = client.delete("/v1/conversations/never-seen")
    assert missing.status_code == 404 and "no such conversation" in missing.json()["detail"]
    assert client.delete("/v1/conversations/bad%20id").status_code == 422


def test_an_unknown_or_expired_conversation_id_starts_afresh_and_says_so(client):
    import sqlite3
    import time as clock

    opened = ask(client, BRIDGE)  # no id given: a new conversation, nothing to tell
    assert opened["new_conversation"] and opened["notice"] is None
    followup = ask(client, "How much did it cost?", conversation_id=opened["conversation_id"])
    assert not followup["new_conversation"] and followup["notice"] is None and followup["turn"] == 2
    unknown = ask(client, "How much did it cost?", conversation_id="never-seen")
    assert unknown["new_conversation"] and unknown["turn"] == 1 and "harbour" not in unknown["search_query"]
    assert unknown["notice"] == "Conversation never-seen is unknown: this question starts it afresh."
    assert not ask(client, APPLES, conversation_id="never-seen")["new_conversation"]  # now it is known
    store = client.app.state.conversations
    with sqlite3.connect(store.path) as db:  # idle longer than the time-to-live
        db.execute("UPDATE turns SET created = ? WHERE conversation_id = ?",
                   (clock.time() - store.ttl_seconds - 60, "api:" + opened["conversation_id"]))
    expired = ask(client, "How much did it cost?", conversation_id=opened["conversation_id"])
    assert expired["new_conversation"] and expired["turn"] == 1 and "harbour" not in expired["search_query"]
    assert expired["notice"] == f"Conversation {opened['conversation_id']} has expired: this question starts it afresh."
    ask(client, BRIDGE, conversation_id="purged")
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE turns SET created = ? WHERE conversation_id = 'api:purged'",
                   (clock.time() - store.ttl_seconds - 60,))
    assert store.purge_expired() == 1  # deleted from the file, and still said to have expired
    assert "has expired" in ask(client, APPLES, conversation_id="purged")["notice"]


def test_a_history_too_long_for_the_reader_is_cut_from_its_oldest_turns(tmp_path, news_index, wait_until):
    from retrieval.types import Turn

    settings = make_settings(tmp_path, *news_index, conversation_max_turns=1000)
    with TestClient(create_app(settings=settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, "the index to load")
        store = client.app.state.conversations
        cheers = " and the crowd cheered the engineers once more" * 400  # far past the reader's window
        for n in range(200):
            span = f"Ines Duarte (turn{n})" if n == 199 else f"Ines Duarte (turn{n}){cheers}"
            store.append("api:long", Turn(f"Who opened the new harbour bridge, turn{n}?", span + cheers, ("harbour",),
                                          f"Who opened the new harbour bridge, turn{n}?", span))
        assert len(store.history("api:long")) == 200
        answer = ask(client, "How much did it cost?", conversation_id="long")
        # The last answer's span itself far too long: its first words are carried, and it still answers.
        store.append("api:long", Turn("Who opened it?", cheers, ("harbour",), "Who opened it?", "Ines Duarte" + cheers))
        overlong = ask(client, "When did it open?", conversation_id="long")
    assert answer["turn"] == 201 and not answer["new_conversation"]
    assert "turn199" in answer["search_query"] and "turn198" not in answer["search_query"]
    assert "40 million euros" in answer["text"]
    assert overlong["turn"] == 203 and len(overlong["search_query"].split()) < 60


def test_off_topic_questions_are_answered_with_an_abstention(client):
    answer = ask(client, OFF_TOPIC)
    assert answer["abstained"] and answer["citations"] == [] and answer["span"] is None


def test_top_k_and_article_ids_limit_what_an_answer_draws_on(client):
    assert len(ask(client, BRIDGE, top_k=1)["citations"]) <= 1
    answer = ask(client, BRIDGE, article_ids=["orchard", "library"])
    assert {c["article_id"] for c in answer["citations"]} <= {"orchard", "library"}
    assert ask(client, BRIDGE, article_ids=["no-such-article"])["abstained"]


def test_published_dates_filter_the_articles(client):
    # harbour: 2021-03-03; ferry: 2019-06-05; the others state no year.
    assert ask(client, FERRY)["citations"][0]["article_id"] == "ferry"
    assert ask(client, FERRY, published_before="2019-12-31")["citations"][0]["article_id"] == "ferry"
    later = ask(client, FERRY, published_after="2020-01-01")
    assert "ferry" not in {c["article_id"] for c in later["citations"]}
    assert ask(client, FERRY, published_after="2019-06-05", published_before="2019-06-05")["citations"][0][
        "article_id"] == "ferry"
    assert ask(client, FERRY, published_after="2019-06-06", article_ids=["ferry"])["abstained"]
    assert ask(client, FERRY, published_after="2019-06-06", published_before="2019-06-04")["abstained"]  # an empty range


def test_a_date_range_finds_exactly_the_articles_a_scan_of_every_article_finds(tmp_path):
    # Articles on the same day, on neighbouring days, across years, and undated ones.
    days = ["2019-06-05", "2019-06-05", "2019-06-06", "2020-01-01", "2020-12-31", "2021-03-03", "2024-02-29"]
    articles = {f"a{n}": f"Title {n}\n\nOn {datetime.date.fromisoformat(d):%B %d, %Y}, something happened.\n"
                for n, d in enumerate(days)}
    articles |= {"undated": "Undated\n\nSomething happened on a Tuesday.\n",
                 "no-year": "No year\n\nOn May 4, it rained.\n"}
    build(write_corpus(tmp_path / "corpus", articles), tmp_path / "index", HashingEmbedder(32))
    version = store.load_current(tmp_path / "index")
    assert sorted(a.published for a in version.articles.values() if a.published) == days
    bounds = ["", "2019-06-04", "2019-06-05", "2019-06-06", "2020-06-30", "2021-03-03", "2024-02-29", "9999-12-31"]
    for after in bounds:
        for before in bounds:
            scan = {a.id for a in version.articles.values() if a.published and after <= a.published <= before}
            assert FileSnapshot(version).published_between(after, before) == scan, (after, before)
    # A new version is sorted afresh, not answered from the last one's order.
    (tmp_path / "corpus" / "undated.txt").write_text("Dated now\n\nOn July 1, 2022, it happened.\n", encoding="utf-8")
    refresh_index(tmp_path / "corpus", tmp_path / "index", HashingEmbedder(32))
    newer = store.load_current(tmp_path / "index")
    assert newer.name != version.name and FileSnapshot(newer).published_between("2022-01-01", "2022-12-31") == {"undated"}
    assert FileSnapshot(version).published_between("2022-01-01", "2022-12-31") == set()


def test_every_thread_of_a_citeqa_process_starts_with_one_openmp_thread():
    """The `citeqa` entry point sets threads before torch or FAISS loads (bot/runtime.py): a server's worker
    threads, which OpenMP starts with its process-wide default, embed and search with one thread each.
    (Torch used to start them with one per core: two per question made a query's embedding 5x slower on a
    loaded 2-core machine.) Run in a fresh process, without the variables this test process has."""
    probe = """
import threading
import bot.cli  # the entry point: as `citeqa serve` starts
import faiss, numpy, torch

seen = []
worker = threading.Thread(target=lambda: seen.extend([torch.get_num_threads(), faiss.omp_get_max_threads()]))
worker.start(); worker.join()
print(seen)
"""
    env = {k: v for k, v in os.environ.items() if k not in runtime.ONE_THREAD + runtime.OFFLINE}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 1]"


def test_articles_and_passages(client):
    listing = client.get("/v1/articles").json()
    assert listing["total"] == 4 and [a["id"] for a in listing["articles"]] == ["ferry", "harbour", "library", "orchard"]
    harbour = next(a for a in listing["articles"] if a["id"] == "harbour")
    assert harbour == {"id": "harbour", "title": "New Harbour Bridge Opens", "date": "March 3, 2021",
                       "published": "2021-03-03", "passages": 1}
    page = client.get("/v1/articles", params={"offset": 1, "limit": 2}).json()
    assert [a["id"] for a in page["articles"]] == ["harbour", "library"] and page["total"] == 4
    article = client.get("/v1/articles/harbour").json()
    assert article["text"].startswith("New Harbour Bridge Opens\n") and article["passages"] == len(article["spans"])
    for span in article["spans"]:
        passage = client.get(f"/v1/passages/{quote(span['id'], safe='')}").json()
        assert passage["text"] == article["text"][span["start"]:span["end"]] and passage["article_id"] == "harbour"
    for path in ("/v1/articles/nope", "/v1/passages/harbour%2399", "/v1/passages/nope"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["detail"].startswith("no such")


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"} == client.get("/health").json()
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["articles"] == 4 and ready["model"] == "hashing-256"
    assert ready["passages"] == 4 and ready["index_version"]


def test_not_ready_until_an_index_is_published(tmp_path, news_index, wait_until):
    corpus, _ = news_index
    settings = make_settings(tmp_path, corpus, tmp_path / "later-index")
    with TestClient(create_app(settings=settings)) as client:
        assert client.get("/healthz").status_code == 200
        for method, path, body in (("GET", "/readyz", None), ("POST", "/v1/ask", {"question": APPLES}),
                                   ("GET", "/v1/articles", None), ("GET", "/v1/passages/x%230", None)):
            response = client.request(method, path, json=body)
            assert response.status_code == 503 and "no index" in response.json()["detail"], (path, response.text)
        build(corpus, settings.index, HashingEmbedder(256))
        wait_until(lambda: client.get("/readyz").status_code == 200, "the published index to load")
        assert not ask(client, APPLES)["abstained"]


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_not_ready_without_the_reader_weights(tmp_path, news_index, damage, caplog):
    import shutil

    from retrieval.answer.reader import MODEL_DIR

    reader = tmp_path / "reader"
    if damage == "corrupt":
        shutil.copytree(MODEL_DIR, reader)
        (reader / "reader-int8.onnx").write_bytes(b"not a model")
    settings = make_settings(tmp_path, *news_index, reader=reader)
    with caplog.at_level("ERROR"), TestClient(create_app(settings=settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "no reader" in ready.json()["detail"]
        assert str(reader) in ready.json()["detail"] and "train_reader.py" in ready.json()["detail"]
        response = client.post("/v1/ask", json={"question": APPLES})
        assert response.status_code == 503 and "reader" in response.json()["detail"]
    assert [r.message for r in caplog.records if "not ready" in r.message and str(reader) in r.message]


def test_admin_routes_do_not_exist_without_a_token(tmp_path, news_index):
    with TestClient(create_app(settings=make_settings(tmp_path, *news_index))) as client:
        for method, path in (("POST", "/v1/admin/refresh"), ("GET", "/v1/admin/refresh/status")):
            response = client.request(method, path, headers={"Authorization": f"Bearer {ADMIN}"})
            assert response.status_code == 404 and response.json()["detail"]
        assert not any(p.startswith("/v1/admin") for p in client.get("/openapi.json").json()["paths"])


@pytest.mark.parametrize("header, status", [(None, 401), ("Basic czNjcmV0", 401), ("Bearer", 401),
                                            ("Bearer wrong-token", 403), (f"Bearer {ADMIN}x", 403)])
def test_admin_routes_need_the_token(client, header, status):
    headers = {"Authorization": header} if header else {}
    for method, path in (("POST", "/v1/admin/refresh"), ("GET", "/v1/admin/refresh/status")):
        response = client.request(method, path, headers=headers)
        assert response.status_code == status and response.json()["detail"]
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/admin/refresh/status", headers={"Authorization": f"Bearer {ADMIN}"}).json()["state"] == "idle"


def refresh(client, wait_until) -> dict:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    started = client.post("/v1/admin/refresh", headers=auth)
    assert started.status_code == 202 and started.json()["state"] in ("running", "succeeded", "failed")
    status = lambda: client.get("/v1/admin/refresh/status", headers=auth).json()  # noqa: E731
    wait_until(lambda: status()["state"] != "running", "the refresh to finish")
    return status()


def test_admin_refresh_hot_swaps_a_new_version(client, settings, wait_until):
    before = client.get("/readyz").json()["index_version"]
    unchanged = refresh(client, wait_until)
    assert unchanged["state"] == "succeeded" and unchanged["published"] is None and not unchanged["swapped"]
    assert unchanged["unchanged"] == 4 and unchanged["index_version"] == before

    (settings.corpus / "lighthouse.txt").write_text(
        "Lighthouse Lit Again\n\nThe lighthouse of Cape Morro was lit again after repairs that cost 2 million "
        "euros. The keeper, Ana Viana, said ships had missed its light for two winters.\n", encoding="utf-8")
    changed = refresh(client, wait_until)
    assert changed["state"] == "succeeded" and changed["added"] == 1 and changed["embedded"] == 1
    assert changed["swapped"] and changed["published"] == changed["index_version"] != before
    assert client.get("/readyz").json()["index_version"] == changed["published"]
    answer = ask(client, "Who is the keeper of the lighthouse of Cape Morro?")
    assert answer["citations"][0]["article_id"] == "lighthouse" and answer["index_version"] == changed["published"]


def test_a_failed_refresh_is_reported_and_the_index_keeps_serving(client, settings, wait_until):
    with store.writer_lock(settings.index):  # another refresh is writing
        failed = refresh(client, wait_until)
    assert failed["state"] == "failed" and "another refresh" in failed["error"]
    assert not ask(client, APPLES)["abstained"]


def test_feedback_is_stored_for_a_turn_that_exists(client):
    answer = ask(client, APPLES)
    conversation = answer["conversation_id"]
    stored = client.post("/v1/feedback", json={"conversation_id": conversation, "turn": 1, "helpful": True,
                                              "comment": "spot on"})
    assert stored.status_code == 201 and stored.json() == {"stored": True}
    assert client.post("/v1/feedback", json={"conversation_id": conversation, "turn": 1, "helpful": False}).status_code == 201
    assert client.app.state.conversations.feedback("api:" + conversation) == [(1, True, "spot on", "api"),
                                                                              (1, False, None, "api")]
    for body, status in (({"conversation_id": conversation, "turn": 2, "helpful": True}, 404),
                         ({"conversation_id": "nobody", "turn": 1, "helpful": True}, 404),
                         ({"conversation_id": conversation, "turn": 1}, 422),
                         ({"conversation_id": conversation, "turn": 0, "helpful": True}, 422),
                         ({"conversation_id": conversation, "turn": 1, "helpful": True, "stars": 5}, 422),
                         ({"conversation_id": conversation, "turn": 1, "helpful": True, "comment": "x" * 2001}, 422)):
        response = client.post("/v1/feedback", json=body)
        assert response.status_code == status and response.json()["detail"], body


def test_metrics_count_requests_answers_abstentions_and_the_index(client):
    ask(client, APPLES)
    ask(client, OFF_TOPIC)
    client.get("/v1/articles/harbour")
    client.get("/no-such-page")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    version = client.get("/readyz").json()["index_version"]
    for line in ('citeqa_http_requests_total{method="POST",route="/v1/ask",status="200"} 2.0',
                 'citeqa_http_requests_total{method="GET",route="/v1/articles/{article_id:path}",status="200"} 1.0',
                 'citeqa_http_requests_total{method="GET",route="unmatched",status="404"} 1.0',
                 'citeqa_http_request_seconds_count{route="/v1/ask"} 2.0',
                 "citeqa_answers_total 2.0", "citeqa_abstentions_total 1.0",
                 "citeqa_index_passages 4.0", "citeqa_index_articles 4.0",
                 f'citeqa_index_info{{model="hashing-256",version="{version}"}} 1.0'):
        assert line in text, line


def test_a_question_of_exactly_1000_characters_is_accepted(client):
    assert ask(client, ("apples " * 143)[:1000])["question"]


def chunks(data: bytes, size: int = 1024):
    for i in range(0, len(data), size):
        yield data[i:i + size]


JSON = {"content-type": "application/json"}
BAD_REQUESTS = {
    "empty question": ("POST", "/v1/ask", dict(json={"question": ""}), 422),
    "blank question": ("POST", "/v1/ask", dict(json={"question": "  \n\t "}), 422),
    "control characters only": ("POST", "/v1/ask", dict(json={"question": "\u0000\u200b"}), 422),
    "question too long": ("POST", "/v1/ask", dict(json={"question": "a" * 1001}), 422),
    "no question": ("POST", "/v1/ask", dict(json={}), 422),
    "question not text": ("POST", "/v1/ask", dict(json={"question": 5}), 422),
    "unknown field": ("POST", "/v1/ask", dict(json={"question": APPLES, "history": []}), 422),
    "top_k 0": ("POST", "/v1/ask", dict(json={"question": APPLES, "top_k": 0}), 422),
    "top_k 11": ("POST", "/v1/ask", dict(json={"question": APPLES, "top_k": 11}), 422),
    "not a date": ("POST", "/v1/ask", dict(json={"question": APPLES, "published_after": "last May"}), 422),
    "bad conversation id": ("POST", "/v1/ask", dict(json={"question": APPLES, "conversation_id": "<b>"}), 422),
    "body not an object": ("POST", "/v1/ask", dict(json=[APPLES]), 422),
    "body not JSON at all": ("POST", "/v1/ask", dict(content=b"question=apples", headers={"content-type": "text/plain"}), 422),
    "malformed JSON": ("POST", "/v1/ask", dict(content=b'{"question": ', headers=JSON), 400),
    "not UTF-8": ("POST", "/v1/ask", dict(content='{"question": "café?"}'.encode("latin-1"), headers=JSON), 400),
    "body over 16 KB": ("POST", "/v1/ask", dict(json={"question": "a", "article_ids": ["x" * 200] * 90}), 413),
    "chunked body over 16 KB": ("POST", "/v1/feedback", dict(content=chunks(b" " * 17_000), headers=JSON), 413),
    "limit not a number": ("GET", "/v1/articles?limit=ten", {}, 422),
    "limit 0": ("GET", "/v1/articles?limit=0", {}, 422),
    "no such route": ("GET", "/v2/ask", {}, 404),
    "wrong method": ("PUT", "/v1/ask", dict(json={"question": APPLES}), 405),
    "wrong method on a GET route": ("POST", "/healthz", {}, 405),
    "no such static file": ("GET", "/static/nope.js", {}, 404),
}


@pytest.mark.parametrize("method, path, kwargs, status", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_every_error_is_json_with_a_clear_message(client, method, path, kwargs, status):
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"] and "Traceback" not in response.text
    if status == 405:
        assert "allow" in response.headers


def test_an_unexpected_failure_is_a_json_500_without_a_traceback(settings, wait_until):
    with TestClient(create_app(settings=settings), raise_server_exceptions=False) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, "the index to load")
        client.app.state.conversations.close()  # the conversation store is gone
        response = client.post("/v1/ask", json={"question": APPLES})
        assert response.status_code == 500 and response.json() == {"detail": "internal error: the server logged it"}
        client.app.state.conversations = ConversationStore(":memory:")  # for the lifespan's close


def test_a_client_over_its_rate_gets_429_with_retry_after(tmp_path, news_index):
    settings = make_settings(tmp_path, *news_index, rate_limit_per_minute=1, rate_limit_burst=2)
    with TestClient(create_app(settings=settings)) as client:
        assert {client.get("/v1/articles/harbour").status_code for _ in range(2)} <= {200, 503}  # not 429
        limited = client.post("/v1/ask", json={"question": APPLES})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) == 60
        assert "too many requests" in limited.json()["detail"]
        assert client.get("/healthz").status_code == 200 and client.get("/").status_code == 200


def test_token_buckets_refill_at_the_rate_and_per_client():
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0, 0]
    assert buckets.take("a") == pytest.approx(1.0) and buckets.take("b") == 0
    now[0] = 1.0
    assert buckets.take("a") == 0 and buckets.take("a") == pytest.approx(1.0)


def test_the_web_chat_is_one_page_that_fetches_nothing_from_other_hosts(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("chat.js", "javascript"), ("chat.css", "text/css")):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name
    script = (STATIC / "chat.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script


def test_the_openapi_schema_documents_the_v1_routes(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/conversations/{conversation_id}", "/v1/feedback", "/v1/articles",
            "/v1/articles/{article_id}", "/v1/passages/{passage_id}", "/healthz", "/readyz", "/metrics",
            "/v1/admin/refresh", "/v1/admin/refresh/status"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200
    # /v1/ask sends its JSON itself (one threadpool trip, not two); the schema still documents the body.
    answer = schema["paths"]["/v1/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/AskOut"}
    response = client.post("/v1/ask", json={"question": APPLES})
    assert response.headers["content-type"] == "application/json"
    assert AskOut.model_validate_json(response.content).citations[0].article_id == "orchard"
