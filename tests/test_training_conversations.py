"""The synthetic conversations the conversation recipe trains on, and the one question text the reader reads."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))

from conversations import elided, make_conversation, with_pronoun  # noqa: E402
from history_format import SEPARATOR, format_question, word_count  # noqa: E402

CONTEXT = ("Gustave Eiffel was a French civil engineer. His company built the Eiffel Tower in Paris for the "
           "1889 World's Fair. He had earlier designed the frame of the Statue of Liberty, and he later studied "
           "the wind in a laboratory at the foot of his tower.")


def qa(question: str, answer: str) -> dict:
    return {"question": question, "answers": [{"text": answer, "answer_start": CONTEXT.index(answer)}]}


QAS = [qa("Whose company built the Eiffel Tower?", "Gustave Eiffel"),
       qa("Where did Gustave Eiffel study the wind?", "in a laboratory at the foot of his tower"),
       qa("What was Gustave Eiffel's profession?", "civil engineer"),
       qa("What frame did Gustave Eiffel design?", "the Statue of Liberty")]


def test_a_name_the_last_turn_said_becomes_a_pronoun_in_its_case():
    seen = "Whose company built the Eiffel Tower? Gustave Eiffel"
    assert with_pronoun("Where did Gustave Eiffel study the wind?", seen, CONTEXT) == "Where did he study the wind?"
    assert with_pronoun("What was Gustave Eiffel's profession?", seen, CONTEXT) == "What was his profession?"
    assert with_pronoun("Who trained Gustave Eiffel?", seen, CONTEXT) == "Who trained him?"
    assert with_pronoun("Gustave Eiffel studied what?", seen, CONTEXT) == "He studied what?"
    # a name the history never said stays; so does a place after "in" (people say "there", not "it")
    assert with_pronoun("Where did Marie Curie study?", seen, CONTEXT) is None
    assert with_pronoun("What did he build in Paris?", "Who built in Paris? Eiffel", CONTEXT) is None


def test_the_words_shared_with_the_turn_before_are_dropped():
    seen = "Who built the Eiffel Tower? Gustave Eiffel"
    assert elided("When was the Eiffel Tower built?", "Who built the Eiffel Tower?", "Gustave Eiffel", seen) == "When?"
    pardon = "Who has the power to issue a pardon?"
    assert elided("Who has the power to issue a reprieve?", pardon, "the President", f"{pardon} the President") \
        == "And a reprieve?"
    # nothing shared, a "What?" that would not say what is asked, or dropped words the history does not show
    assert elided("When did the fair open?", "Who built the Eiffel Tower?", "Gustave Eiffel", seen) is None
    assert elided("What was the tower built for?", "Where was the tower built?", "Paris",
                  "Where was the tower built? Paris") is None
    assert elided("When was the Eiffel Tower built?", "Who built the Eiffel Tower?", "Gustave Eiffel", "Who? him") is None


def test_a_conversation_asks_a_paragraphs_questions_in_order_with_its_history():
    turns = make_conversation(CONTEXT, QAS, random.Random(0), keep_share=0.0)
    assert [t.original for t in turns] == [q["question"] for q in QAS]
    assert turns[0].kind == "first" and turns[0].history == ()
    assert turns[1].question == "Where did he study the wind?" and turns[1].kind == "pronoun"
    assert turns[2].history == ((turns[0].question, "Gustave Eiffel"),
                                (turns[1].question, "in a laboratory at the foot of his tower"))
    assert all(t.answer == CONTEXT[t.answer_start:t.answer_start + len(t.answer)] for t in turns)
    kept = make_conversation(CONTEXT, QAS, random.Random(0), keep_share=1.0)
    assert [t.question for t in kept] == [q["question"] for q in QAS]
    assert [t.kind for t in kept] == ["first", "unchanged", "unchanged", "unchanged"]


def test_history_follows_the_question_newest_first_and_the_oldest_is_cut_first():
    history = [("Who built it?", "Eiffel"), ("When?", "1889"), ("Where?", "Paris")]
    assert format_question("Why?", []) == "Why?"
    assert format_question("Why?", history, max_turns=2) == f"Why?{SEPARATOR}Where? Paris{SEPARATOR}When? 1889"
    assert format_question("Why?", history, max_turns=3, max_history_tokens=100) == \
        f"Why?{SEPARATOR}Where? Paris{SEPARATOR}When? 1889{SEPARATOR}Who built it? Eiffel"
    # each turn costs its words plus one for its separator: 3 + 3 fit in 8, the third turn gets 1 + 1
    assert format_question("Why?", history, max_turns=3, max_history_tokens=8) == \
        f"Why?{SEPARATOR}Where? Paris{SEPARATOR}When? 1889{SEPARATOR}Who"
    assert format_question("Why?", history, max_turns=3, max_history_tokens=6) == \
        f"Why?{SEPARATOR}Where? Paris{SEPARATOR}When? 1889"
    assert format_question("Why?", history, max_history_tokens=0) == "Why?"
    # the budget is counted with the caller's tokenizer: here one token a character
    assert format_question("Why?", history, count_tokens=len, max_history_tokens=20) == f"Why?{SEPARATOR}Where? Paris"


def test_the_question_is_never_cut_only_the_history():
    long_question = " ".join(["word"] * 80) + "?"
    made = format_question(long_question, [("Who?", "Eiffel")], max_history_tokens=3)
    assert made.startswith(long_question) and word_count(made) == word_count(long_question) + 3
