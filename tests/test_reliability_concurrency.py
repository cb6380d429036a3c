"""Many at once: 8 HTTP clients asking thousands of questions while the index is refreshed five times, and the
API and the bot writing conversations to one store at the same time, then a crash and a restart."""

from __future__ import annotations

import signal
import threading

import httpx
import pytest

from bot.conversation_store import ConversationStore
from conftest import DEADLINE, NEWS, ServedCiteqa, assert_cites_its_version, citeqa_env, write_corpus
from retrieval.index.files import versions as store
from retrieval.embed.embedders import HashingEmbedder
from retrieval.index.files.refresh import build, refresh
from retrieval.types import Turn

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

CLIENTS = 8
QUESTIONS = 1200  # in all, by the 8 clients (each question runs the reader: 2,400 took over a minute here)
QUESTIONS_PER_VERSION = 150  # answered from each new version before the next refresh
LIGHTHOUSE = ("Lighthouse Lit Again\n\nThe lighthouse of Cape Morro was lit again after repairs that cost 2 million "
              "euros. The keeper, Ana Viana, said ships had missed its light for two winters.\n")
ASKED = ["Who opened the new harbour bridge of Port Alba?", "How many tonnes of apples did farmers pick?",
         "Who is the keeper of the lighthouse of Cape Morro?", "When will the central library open on Sundays?",
         "How many years did the captain steer the old ferry?", "What is the capital of Mongolia?",
         "How much did the harbour bridge cost?"]


def five_changes(corpus):
    """Real changes, one per refresh: an article added, edited, deleted, added back, edited again."""
    yield lambda: (corpus / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    yield lambda: (corpus / "orchard.txt").write_text(NEWS["orchard"].replace("12,000", "14,500"), encoding="utf-8")
    yield lambda: (corpus / "ferry.txt").unlink()
    yield lambda: (corpus / "ferry.txt").write_text(NEWS["ferry"], encoding="utf-8")
    yield lambda: (corpus / "harbour.txt").write_text(NEWS["harbour"] + "\nThe bridge is 900 metres long.\n",
                                                      encoding="utf-8")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One server for both tests (the conversation test, which runs last, kills it)."""
    tmp_path = tmp_path_factory.mktemp("concurrency")
    corpus, index_dir = write_corpus(tmp_path / "corpus", NEWS), tmp_path / "index"
    build(corpus, index_dir, HashingEmbedder(64))
    server = ServedCiteqa(citeqa_env(tmp_path, corpus, index_dir, reload_seconds="0.1",
                                     conversation_max_turns="100"), tmp_path)
    try:
        server.wait_version(store.current_name(index_dir))
        yield server, corpus, index_dir
    finally:
        server.stop()


def test_questions_while_the_index_is_refreshed_five_times_all_succeed_and_cite_their_version(served):
    server, corpus, index_dir = served
    embedder = HashingEmbedder(64)
    versions: dict[str, dict] = {}  # every version published, read from disk the moment it is published
    assert_cites_its_version({"index_version": store.current_name(index_dir), "citations": []}, index_dir, versions)
    answers: list[dict] = []
    failures: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def client(k: int) -> None:
        with httpx.Client(base_url=server.url, timeout=DEADLINE, trust_env=False) as http:
            n = k
            while not stop.is_set():
                try:
                    response = http.post("/v1/ask", json={"question": ASKED[n % len(ASKED)]})
                except httpx.HTTPError as err:
                    failures.append(f"{type(err).__name__}: {err}")
                    continue
                with lock:
                    if response.status_code == 200:
                        answers.append(response.json())
                    else:
                        failures.append(f"{response.status_code} {response.text}")
                n += CLIENTS

    def answered_at_least(count: int) -> None:
        server.wait(lambda: len(answers) + len(failures) >= count or not all(t.is_alive() for t in threads),
                    f"{count} answers")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        answered_at_least(QUESTIONS_PER_VERSION)
        for change in five_changes(corpus):
            change()
            report = refresh(corpus, index_dir, embedder)
            assert report.published
            assert_cites_its_version({"index_version": report.version, "citations": []}, index_dir, versions)
            server.wait_version(report.version)
            answered_at_least(len(answers) + QUESTIONS_PER_VERSION)
        answered_at_least(QUESTIONS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=DEADLINE)
    assert not failures, failures[:5]
    assert len(answers) >= QUESTIONS and len(versions) == 6
    assert {a["index_version"] for a in answers} == set(versions)  # questions were answered from every version
    for answer in answers:
        assert answer["index_version"] in versions
        assert_cites_its_version(answer, index_dir, versions)
    # The deleted article is never cited by a version it is not in, and the edit is seen once published.
    order = sorted(versions)
    no_ferry = order[3]
    assert not any(c["article_id"] == "ferry" for a in answers if a["index_version"] == no_ferry for c in a["citations"])
    assert any("14,500" in a["text"] for a in answers if a["index_version"] >= order[2])


def test_conversations_written_at_once_by_the_api_and_the_bot_survive_a_crash_unmixed(served):
    """The API (a `citeqa serve` process) and the bot (threads here with their own ConversationStore, as
    `citeqa telegram` would be) write to one SQLite file at the same time; then the server is killed."""
    server, _, _ = served
    tmp_path = server.cwd
    api_conversations, turns = 24, 5
    bot_chats, bot_turns = 40, 8
    sent: dict[str, list[str]] = {}
    failures: list[str] = []

    def api_user(k: int) -> None:
        with httpx.Client(base_url=server.url, timeout=DEADLINE, trust_env=False) as http:
            for c in range(k, api_conversations, CLIENTS):
                cid = f"web-{c}"
                for t in range(1, turns + 1):
                    question = f"{ASKED[(c + t) % len(ASKED)]} ({cid} turn {t})"
                    sent.setdefault(cid, []).append(question)
                    response = http.post("/v1/ask", json={"question": question, "conversation_id": cid})
                    if response.status_code != 200 or response.json()["turn"] != t:
                        failures.append(f"{cid} {t}: {response.status_code} {response.text[:200]}")

    bot_store = ConversationStore(tmp_path / "conversations.sqlite", max_turns=100)

    def bot_user(k: int) -> None:
        for c in range(k, bot_chats, 4):
            key = f"telegram:{1000 + c}"
            for t in range(1, bot_turns + 1):
                question = f"chat {c} says {t}"
                sent.setdefault(key, []).append(question)
                number = bot_store.append(key, Turn(question, f"answer {c}.{t}", (f"article-{c}",), question))
                if number != t:
                    failures.append(f"{key}: turn {t} stored as {number}")

    threads = [threading.Thread(target=api_user, args=(k,)) for k in range(CLIENTS)]
    threads += [threading.Thread(target=bot_user, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE * 2)
    bot_store.close()
    assert not failures, failures[:5]
    server.stop(signal.SIGKILL)  # a crash, not a clean shutdown

    restarted = ConversationStore(tmp_path / "conversations.sqlite", max_turns=100)
    try:
        for cid, questions in sent.items():
            key = cid if cid.startswith("telegram:") else f"api:{cid}"
            history = restarted.history(key)
            assert [t.question for t in history] == questions, cid
            if key.startswith("telegram:"):
                c = key.removeprefix("telegram:")
                assert all(t.article_ids == (f"article-{int(c) - 1000}",) for t in history)
    finally:
        restarted.close()
    assert len(sent) == api_conversations + bot_chats

    again = ServedCiteqa(server.env, server.cwd)  # the API, restarted, continues where it stopped
    try:
        again.wait(lambda: again.version() is not None, "the restarted server to be ready")
        response = again.client.post("/v1/ask", json={"question": "Who opened it?", "conversation_id": "web-3"})
        assert response.status_code == 200 and response.json()["turn"] == turns + 1
    finally:
        again.stop()
