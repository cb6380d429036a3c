"""The shared conversation store: order, caps, time-to-live, restarts, and many writers at once."""

import threading

import pytest

from bot.conversations import ConversationStore
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
