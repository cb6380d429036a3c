"""The buttons under a Telegram answer (a passage per citation, 👍 / 👎) and what each one carries.

The bot is built with python-telegram-bot's `arbitrary_callback_data`: a button carries one of the objects
below, the library keeps it and sends Telegram only a random key. A forged key, or one the library no
longer holds (a restart, or more than its cache keeps), arrives as `InvalidCallbackData`: the bot says the
button has expired, and nothing else happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render import cited_ranges, span_range
from retrieval.types import Answer, Passage

BUTTONS_KEPT = 2048  # buttons the library remembers (cachetools LRU): about 500 answers


@dataclass(frozen=True, slots=True)
class ShowPassage:
    """Show citation `n`'s whole passage, the quoted sentences (`highlights`) in bold and the span underlined.

    Passages are named by their row, which the index never gives to other text, so a button cannot show a
    passage other than the one it was made for."""

    n: int
    row: int
    highlights: tuple[tuple[int, int], ...]
    span: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Vote:
    """The answer stored as `turn` of `conversation` helped, or did not."""

    conversation: str
    turn: int
    helpful: bool


def answer_keyboard(answer: Answer, conversation: str, turn: int,
                    passage: Callable[[str], Passage | None]) -> InlineKeyboardMarkup:
    """A passage button per citation still in the index (`passage` finds it by id), then the vote buttons for the turn."""
    passages = []
    for c in answer.citations:
        found = passage(c.passage_id)
        if found is None or found.text != c.quote:  # the index changed since: no stale button
            continue
        press = ShowPassage(c.n, found.row, tuple(cited_ranges(answer, c.n)), span_range(answer, c.n))
        passages.append(InlineKeyboardButton(f"Passage {c.n}", callback_data=press))
    votes = [InlineKeyboardButton("👍", callback_data=Vote(conversation, turn, True)),
             InlineKeyboardButton("👎", callback_data=Vote(conversation, turn, False))]
    return InlineKeyboardMarkup([passages, votes] if passages else [votes])


def without_votes(keyboard: InlineKeyboardMarkup) -> InlineKeyboardMarkup | None:
    """The keyboard once the answer is voted on: the passage buttons stay; None when nothing is left."""
    rows = [row for row in keyboard.inline_keyboard if not any(isinstance(b.callback_data, Vote) for b in row)]
    return InlineKeyboardMarkup(rows) if rows else None
