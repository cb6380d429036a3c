"""The buttons under a Telegram answer (a passage per citation, 👍 / 👎) and the callback data that says which was pressed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render import cited_ranges
from retrieval.types import Answer, Passage

MAX_CALLBACK_BYTES = 64  # Telegram refuses longer callback data
# Button data: "p:<n>:<passage row>:<start>-<end>,..." (the cited sentences in the passage), "f:<turn>:<1|0>".
_PASSAGE = re.compile(r"p:(\d+):(\d+):(\d+-\d+(?:,\d+-\d+)*)?")
_VOTE = re.compile(r"f:(\d+):([01])")


@dataclass(frozen=True, slots=True)
class ShowPassage:
    """Show citation `n`'s whole passage, `highlights` in bold. Passages are named by their row, which the index
    never gives to other text, so a button cannot show a passage other than the one it was made for."""

    n: int
    row: int
    highlights: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Vote:
    """The answer stored as `turn` of the chat's conversation helped, or did not."""

    turn: int
    helpful: bool


def answer_keyboard(answer: Answer, turn: int, by_id: dict[str, Passage]) -> InlineKeyboardMarkup:
    """A passage button per citation still in the index (`by_id`), then the vote buttons for `turn`."""
    passages = []
    for c in answer.citations:
        passage = by_id.get(c.passage_id)
        if passage is None or passage.text != c.quote:  # the index changed since: no stale button
            continue
        data = f"p:{c.n}:{passage.row}:" + ",".join(f"{s}-{e}" for s, e in cited_ranges(answer, c.n))
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            data = f"p:{c.n}:{passage.row}:"
        passages.append(InlineKeyboardButton(f"Passage {c.n}", callback_data=data))
    votes = [InlineKeyboardButton("👍", callback_data=f"f:{turn}:1"),
             InlineKeyboardButton("👎", callback_data=f"f:{turn}:0")]
    return InlineKeyboardMarkup([passages, votes] if passages else [votes])


def pressed(data: str | None) -> ShowPassage | Vote | None:
    """What a button's callback data asks for; None for data this bot does not write."""
    if passage := _PASSAGE.fullmatch(data or ""):
        n, row, marks = passage.groups()
        highlights = [(int(s), int(e)) for s, _, e in (m.partition("-") for m in (marks or "").split(",") if m)]
        return ShowPassage(int(n), int(row), highlights)
    if vote := _VOTE.fullmatch(data or ""):
        return Vote(int(vote.group(1)), vote.group(2) == "1")
    return None


def without_votes(keyboard: InlineKeyboardMarkup) -> InlineKeyboardMarkup | None:
    """The keyboard once the answer is voted on: the passage buttons stay; None when nothing is left."""
    rows = [row for row in keyboard.inline_keyboard if not any((b.callback_data or "").startswith("f:") for b in row)]
    return InlineKeyboardMarkup(rows) if rows else None
