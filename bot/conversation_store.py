"""The conversation store shared by the HTTP API and the Telegram bot: an SQLite file that survives
restarts, forgets conversations after a time-to-live and keeps only their last turns."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from retrieval.engine import Engine, ask
from retrieval.question.filters import Filters
from retrieval.types import Answer, Turn

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    created REAL NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    article_ids TEXT NOT NULL,
    search_query TEXT NOT NULL,
    span TEXT,
    PRIMARY KEY (conversation_id, turn)
);
CREATE TABLE IF NOT EXISTS messages (
    chat TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (chat, message_id)
);
CREATE TABLE IF NOT EXISTS filters (
    chat TEXT PRIMARY KEY,
    article_ids TEXT,
    published_after TEXT,
    published_before TEXT
);
CREATE TABLE IF NOT EXISTS expired (
    conversation_id TEXT PRIMARY KEY,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    helpful INTEGER NOT NULL,
    comment TEXT,
    source TEXT NOT NULL,
    created REAL NOT NULL
);
"""


# What the store held of a conversation when a question came: turns within the time-to-live ("live"), only
# turns older than it or the mark purging them left ("expired"), or nothing ("unknown": never asked, or forgotten).
State = Literal["live", "expired", "unknown"]


@dataclass(frozen=True, slots=True)
class Recalled:
    turns: list[Turn]  # the last turns, oldest first: the context a question in the conversation reads
    state: State


class ConversationStore:
    """Thread-safe; several processes may share the file (SQLite's WAL and a busy timeout)."""

    def __init__(self, path: str | Path, ttl_seconds: float = 24 * 3600, max_turns: int = 10):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.ttl_seconds, self.max_turns = ttl_seconds, max_turns
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def history(self, conversation_id: str, until_turn: int | None = None) -> list[Turn]:
        """The conversation's last turns (up to `until_turn` when given), oldest first; [] when unknown or expired."""
        return self.recall(conversation_id, until_turn).turns

    def recall(self, conversation_id: str, until_turn: int | None = None) -> Recalled:
        """The conversation's last turns (up to `until_turn` when given) and whether it is live, expired or unknown.

        A live conversation may still give no turns (a reply to a turn older than those kept): its state, not
        its turns, says whether a question continues it."""
        oldest = time.time() - self.ttl_seconds
        with self._lock:
            rows = self._db.execute(
                "SELECT question, answer, article_ids, search_query, span FROM turns "
                "WHERE conversation_id = ? AND created >= ? AND turn <= ? ORDER BY turn DESC LIMIT ?",
                (conversation_id, oldest, until_turn if until_turn is not None else 2**62, self.max_turns),
            ).fetchall()
            (newest,) = self._db.execute(
                "SELECT MAX(created) FROM (SELECT created FROM turns WHERE conversation_id = ? "
                "UNION ALL SELECT last_used FROM expired WHERE conversation_id = ?)",
                (conversation_id, conversation_id)).fetchone()
        state: State = "unknown" if newest is None else "live" if newest >= oldest else "expired"
        return Recalled([Turn(q, a, tuple(json.loads(ids)), s, span) for q, a, ids, s, span in reversed(rows)], state)

    def append(self, conversation_id: str, turn: Turn) -> int:
        """Store a turn; returns its number in the conversation (1, 2, ...). Expired turns are dropped first."""
        now = time.time()
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM turns WHERE conversation_id = ? AND created < ?",
                             (conversation_id, now - self.ttl_seconds))
            (last,) = self._db.execute("SELECT COALESCE(MAX(turn), 0) FROM turns WHERE conversation_id = ?",
                                       (conversation_id,)).fetchone()
            number = last + 1
            self._db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, number, now, turn.question, turn.answer, json.dumps(list(turn.article_ids)),
                 turn.search_query, turn.span),
            )
            self._db.execute("DELETE FROM turns WHERE conversation_id = ? AND turn <= ?",
                             (conversation_id, number - self.max_turns))
            self._db.execute("DELETE FROM expired WHERE conversation_id = ?", (conversation_id,))
        return number

    def forget(self, conversation_id: str, threads: bool = False) -> bool:
        """Delete the conversation's turns (and, with `threads`, those of "<id>/..."); True when there were any."""
        where, args = "conversation_id = ?", [conversation_id]
        if threads:
            where, args = where + " OR substr(conversation_id, 1, ?) = ?", args + [len(conversation_id) + 1,
                                                                                 conversation_id + "/"]
        with self._lock, self._transaction():
            deleted = self._db.execute(f"DELETE FROM turns WHERE {where}", args).rowcount
            self._db.execute(f"DELETE FROM messages WHERE {where}", args)
            self._db.execute(f"DELETE FROM expired WHERE {where}", args)  # forgotten on request: not "expired"
        return deleted > 0

    def filters(self, chat: str) -> Filters:
        """The filter a chat set with /filter; none set: every article."""
        with self._lock:
            row = self._db.execute("SELECT article_ids, published_after, published_before FROM filters WHERE chat = ?",
                                   (chat,)).fetchone()
        if row is None:
            return Filters()
        ids, after, before = row
        return Filters(None if ids is None else frozenset(json.loads(ids)),
                       after and datetime.date.fromisoformat(after), before and datetime.date.fromisoformat(before))

    def set_filters(self, chat: str, filters: Filters) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM filters WHERE chat = ?", (chat,))
            if filters.active:
                self._db.execute("INSERT INTO filters VALUES (?, ?, ?, ?)", (
                    chat, None if filters.article_ids is None else json.dumps(sorted(filters.article_ids)),
                    filters.published_after and filters.published_after.isoformat(),
                    filters.published_before and filters.published_before.isoformat()))

    def remember_message(self, chat: str, message_id: int, conversation_id: str, turn: int) -> None:
        """A message that carries `turn` of `conversation_id` (a Telegram answer), so a reply to it follows up there."""
        with self._lock, self._transaction():
            self._db.execute("INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?)",
                             (chat, message_id, conversation_id, turn, time.time()))

    def message_turn(self, chat: str, message_id: int) -> tuple[str, int] | None:
        """(conversation, turn) that a remembered message carries, while that turn is still kept; else None."""
        with self._lock:
            row = self._db.execute(
                "SELECT m.conversation_id, m.turn FROM messages m JOIN turns t "
                "ON t.conversation_id = m.conversation_id AND t.turn = m.turn "
                "WHERE m.chat = ? AND m.message_id = ? AND t.created >= ?",
                (chat, message_id, time.time() - self.ttl_seconds)).fetchone()
        return (row[0], row[1]) if row else None

    def turn_exists(self, conversation_id: str, turn: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM turns WHERE conversation_id = ? AND turn = ?",
                                   (conversation_id, turn)).fetchone()
        return row is not None

    def add_feedback(self, conversation_id: str, turn: int, helpful: bool, comment: str | None = None,
                     source: str = "api") -> None:
        with self._lock, self._transaction():
            self._db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?)",
                             (conversation_id, turn, int(helpful), comment, source, time.time()))

    def feedback(self, conversation_id: str) -> list[tuple[int, bool, str | None, str]]:
        with self._lock:
            rows = self._db.execute("SELECT turn, helpful, comment, source FROM feedback WHERE conversation_id = ? "
                                    "ORDER BY rowid", (conversation_id,)).fetchall()
        return [(t, bool(h), c, s) for t, h, c, s in rows]

    def purge_expired(self) -> int:
        """Delete every turn (and remembered message) older than the time-to-live; returns how many turns.
        Feedback rows are kept.

        A conversation whose every turn goes leaves a mark (its id and when it was last used), so that its next
        question is told it expired rather than taken for a first one; marks go after a second time-to-live."""
        oldest = time.time() - self.ttl_seconds
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM messages WHERE created < ?", (oldest,))
            self._db.execute("INSERT OR REPLACE INTO expired SELECT conversation_id, MAX(created) FROM turns "
                             "GROUP BY conversation_id HAVING MAX(created) < ?", (oldest,))
            self._db.execute("DELETE FROM expired WHERE last_used < ?", (oldest - self.ttl_seconds,))
            return self._db.execute("DELETE FROM turns WHERE created < ?", (oldest,)).rowcount

    def _transaction(self):
        return _Immediate(self._db)


class _Immediate:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, so two processes never race a turn number."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


class Conversed(NamedTuple):
    answer: Answer
    turn: int  # its number in the conversation
    state: State  # the conversation's before this question: anything but "live" means it started afresh


def converse(engine: Engine, store: ConversationStore, conversation_id: str, question: str,
             filters: Filters = Filters(), until_turn: int | None = None, **ask_options) -> Conversed:
    """A question in a conversation, the one way every front-end asks one: the conversation's history (up
    to `until_turn`, for a reply to an older answer), `ask` within the filters, and the turn remembered."""
    article_ids = filters.allowed(engine.index) if filters.active else None
    recalled = store.recall(conversation_id, until_turn)
    answer = ask(engine, question, recalled.turns, article_ids=article_ids, **ask_options)
    return Conversed(answer, store.append(conversation_id, answer.as_turn()), recalled.state)


async def purge_expired_every(store: ConversationStore, seconds: float) -> None:
    """Each server's schedule: expired turns are deleted from the file, not only hidden from `history`."""
    while True:
        try:
            removed = await asyncio.to_thread(store.purge_expired)
        except sqlite3.Error as err:  # a busy or damaged file: said once a round, tried again next round
            log.error("could not delete expired conversations: %s", err)
        else:
            if removed:
                log.info("deleted %d turns of expired conversations", removed)
        await asyncio.sleep(seconds)
