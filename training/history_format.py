"""The one text a conversational turn gives the reader: the question first, then the turns it leans on, newest first.

    "when was it built? || what did Eiffel build? the tower || who was Eiffel? an engineer"

The current question comes first so that the reader's cut of the question segment (it keeps the first
`MAX_QUESTION_TOKENS` tokens) drops the oldest history first and never the question. Each earlier turn is its
question followed by its answer; turns are joined by " || " (two WordPiece tokens that no question holds), so
the model can tell the turns apart without a special token inside the question segment. The history is held
to `max_history_tokens` (counted with the caller's `count_tokens`, e.g. the reader's tokenizer) and to
`max_turns` turns: a longer reader input costs time on every turn, and CoQA follow-ups lean on the last turn
or two. The reader was trained on exactly this text (training/train_reader.py, recipe `conversation`), so the
runtime must build it with this function and the settings in the reader's manifest.

Pure: no I/O, no model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

SEPARATOR = " || "
MAX_TURNS = 2
MAX_HISTORY_TOKENS = 40


def word_count(text: str) -> int:
    """A stand-in token counter (whitespace words) for callers without the reader's tokenizer."""
    return len(text.split())


def format_turn(question: str, answer: str) -> str:
    """One earlier turn as the reader reads it: its question, then its answer."""
    question, answer = " ".join(question.split()), " ".join(answer.split())
    return f"{question} {answer}".strip()


def format_question(question: str, history: Sequence[tuple[str, str]], *,
                    count_tokens: Callable[[str], int] = word_count,
                    max_history_tokens: int = MAX_HISTORY_TOKENS, max_turns: int = MAX_TURNS) -> str:
    """`question` with the earlier turns it may lean on.

    `history`: the conversation's earlier turns as (question, answer), OLDEST FIRST, as a conversation is
    kept. The newest `max_turns` of them are written newest first after the question while their tokens
    (separators included) fit in `max_history_tokens`; the turn that does not fit whole is cut to its first
    words that fit, and older turns are left out. An empty history gives the bare question.
    """
    question = " ".join(question.split())
    parts: list[str] = []
    used = 0
    for asked, answer in list(reversed(history))[:max_turns]:
        turn = format_turn(asked, answer)
        if not turn:
            continue
        cost = count_tokens(SEPARATOR.strip()) + count_tokens(turn)
        if used + cost <= max_history_tokens:
            parts.append(turn)
            used += cost
            continue
        words = turn.split()
        while words and used + count_tokens(SEPARATOR.strip()) + count_tokens(" ".join(words)) > max_history_tokens:
            words.pop()
        if words:
            parts.append(" ".join(words))
        break
    return SEPARATOR.join([question, *parts])
