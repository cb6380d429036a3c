"""The shared conversation store: order, caps, time-to-live, restarts, and many writers at once."""

import threading

import pytest

from bot.conversation_store import ConversationStore, Recalled
from retrieval.types import Turn


def test_turns_come_back_in_order_and_survive_a_restart(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite")
    assert store.append("a", Turn("q1", "a1", ("x",), "q1", "Wang")) == 1
    assert store.append("a", Turn("q2", "a2")) == 2
    store.close()
    again = ConversationStore(tmp_path / "c.sqlite")
    history = again.history("a")
    assert [t.question for t in history] == ["q1", "q2"]
    assert history[0].article_ids == ("x",) and history[0].span == "Wang"
    assert again.history("unknown") == []


def test_cap_and_forget(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite", max_turns=3)
    for n in range(5):
        store.append("a", Turn(f"q{n}"))
    assert [t.question for t in store.history("a")] == ["q2", "q3", "q4"]
    assert store.forget("a") and store.history("a") == []
    assert not store.forget("a")


def test_expired_conversations_are_forgotten(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite", ttl_seconds=-1)
    store.append("a", Turn("q"))
    assert store.history("a") == []
    assert store.purge_expired() == 1


def test_feedback_is_kept(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite")
    store.append("a", Turn("q"))
    store.add_feedback("a", 1, True, "spot on", source="telegram")
    assert store.feedback("a") == [(1, True, "spot on", "telegram")]
    assert store.turn_exists("a", 1) and not store.turn_exists("a", 2)


def test_many_writers_lose_nothing_and_mix_nothing(tmp_path):
    path = tmp_path / "c.sqlite"
    stores = [ConversationStore(path, max_turns=1000) for _ in range(2)]  # two "processes"

    def write(store, conversation):
        for n in range(25):
            store.append(conversation, Turn(f"{conversation}-{n}"))

    threads = [threading.Thread(target=write, args=(stores[k % 2], f"c{k}")) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reopened = ConversationStore(path, max_turns=1000)
    for k in range(8):
        assert [t.question for t in reopened.history(f"c{k}")] == [f"c{k}-{n}" for n in range(25)]


def test_unwritable_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((OSError, Exception)):
        ConversationStore(blocker / "c.sqlite")


def test_forget_expired_deletes_old_turns_from_the_file_and_keeps_the_rest(tmp_path):
    import sqlite3
    import time as clock

    from tests.conftest import citeqa_env, run_citeqa

    path = tmp_path / "conversations.sqlite"
    store = ConversationStore(path, ttl_seconds=3600)
    store.append("old", Turn("Who opened the bridge?", "Ines Duarte [1]"))
    store.append("new", Turn("How much did it cost?", "40 million euros [1]"))
    store.close()
    with sqlite3.connect(path) as db:  # the first conversation was last used two hours ago
        db.execute("UPDATE turns SET created = ? WHERE conversation_id = 'old'", (clock.time() - 7200,))
    env = citeqa_env(tmp_path, tmp_path, tmp_path / "index", CONVERSATION_TTL_SECONDS="3600")
    run = run_citeqa(["forget-expired"], env, tmp_path)
    assert run.returncode == 0 and run.stdout.startswith("deleted 1 turns"), run
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT conversation_id FROM turns")] == ["new"]


def test_forget_expired_on_a_file_that_is_not_a_store_is_one_clear_line(tmp_path):
    from tests.conftest import citeqa_env, run_citeqa

    (tmp_path / "conversations.sqlite").write_bytes(b"this is not an SQLite file" * 100)
    run = run_citeqa(["forget-expired"], citeqa_env(tmp_path, tmp_path, tmp_path / "index"), tmp_path)
    assert run.returncode == 1 and "could not read the conversation store" in run.stderr
    assert "Traceback" not in run.stderr


def test_each_server_deletes_expired_turns_on_its_schedule(tmp_path):
    import asyncio

    from bot.conversation_store import purge_expired_every

    store = ConversationStore(tmp_path / "c.sqlite", ttl_seconds=0.05)
    store.append("a", Turn("q?", "a"))

    async def run_briefly():
        task = asyncio.create_task(purge_expired_every(store, 0.05))
        await asyncio.sleep(0.3)
        task.cancel()

    asyncio.run(run_briefly())
    assert store._db.execute("SELECT COUNT(*) FROM turns").fetchone() == (0,)
    store.close()


def test_a_chats_filter_outlives_a_restart_and_off_removes_it(tmp_path):
    import datetime

    from retrieval.question.filters import Filters

    path = tmp_path / "conversations.sqlite"
    chosen = Filters(frozenset({"harbour", "ferry"}), datetime.date(2019, 1, 1), None)
    first = ConversationStore(path)
    assert first.filters("telegram:1") == Filters()
    first.set_filters("telegram:1", chosen)
    first.set_filters("telegram:2", Filters(None, None, datetime.date(2020, 5, 1)))
    first.close()
    again = ConversationStore(path)
    assert again.filters("telegram:1") == chosen
    assert again.filters("telegram:2") == Filters(None, None, datetime.date(2020, 5, 1))
    again.set_filters("telegram:1", Filters())
    assert again.filters("telegram:1") == Filters() and not again.filters("telegram:1").active
    again.close()


def test_a_store_tells_a_live_conversation_from_an_expired_and_an_unknown_one(tmp_path):
    import sqlite3
    import time as clock

    path = tmp_path / "c.sqlite"
    store = ConversationStore(path, ttl_seconds=3600, max_turns=2)
    assert store.recall("never").state == "unknown" and store.recall("never").turns == []
    for n in range(3):
        store.append("live", Turn(f"q{n}"))
        store.append("old", Turn(f"q{n}"))
    live = store.recall("live", until_turn=1)  # a reply to a turn no longer kept: live, though without turns
    assert live.state == "live" and live.turns == []
    assert [t.question for t in store.recall("live").turns] == ["q1", "q2"]
    with sqlite3.connect(path) as db:  # "old" was last used an hour and a half ago
        db.execute("UPDATE turns SET created = ? WHERE conversation_id = 'old'", (clock.time() - 5400,))
    assert store.recall("old") == Recalled([], "expired")
    assert store.purge_expired() == 2
    assert store.recall("old").state == "expired"  # purged, yet still known to have expired
    assert store.recall("live").state == "live"
    store.append("old", Turn("again"))
    assert store.recall("old").state == "live" and store.recall("old").turns[0].question == "again"
    store.close()


def test_an_expired_mark_goes_on_forget_and_after_a_second_time_to_live(tmp_path):
    import sqlite3
    import time as clock

    path = tmp_path / "c.sqlite"
    store = ConversationStore(path, ttl_seconds=3600)
    for conversation in ("reset", "long-ago"):
        store.append(conversation, Turn("q"))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE turns SET created = ? WHERE conversation_id = 'reset'", (clock.time() - 5400,))
        db.execute("UPDATE turns SET created = ? WHERE conversation_id = 'long-ago'", (clock.time() - 3 * 3600,))
    store.purge_expired()
    assert store.recall("reset").state == "expired"
    assert store.recall("long-ago").state == "unknown"  # idle past two times-to-live: no mark is kept
    store.forget("reset")  # forgotten on request: its next question is a first one, not an expired one
    assert store.recall("reset").state == "unknown"
    assert store._db.execute("SELECT COUNT(*) FROM expired").fetchone() == (0,)
    store.close()
