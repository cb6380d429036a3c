"""Question checks, answer types, follow-up detection and spans: pure functions and spaCy, no index."""

import pytest

from retrieval.question.followups import is_followup, resolve
from retrieval.question.wording import answer_type, clean_question, own_entities
from retrieval.types import Turn


@pytest.mark.parametrize("question, kind", [
    ("Who presided over the meeting?", "PERSON"),
    ("Which company filed the most applications?", "ORG"),
    ("Where was the base inaugurated?", "PLACE"),
    ("When did the office open?", "DATE"),
    ("In what year was it founded?", "DATE"),
    ("How many cities have started the work?", "NUMBER"),
    ("How much money did the project cost?", "AMOUNT"),
    ("What actress did the translation?", "PERSON"),
    ("What is the name of the first Doctor Who serial?", None),
    ("What was signed at the ceremony?", None),
])
def test_answer_type(question, kind):
    assert answer_type(question) == kind


def test_clean_question_replaces_control_characters():
    assert clean_question("Who\x00 attended\u202e the\tmeeting?") == "Who attended the meeting?"


def test_own_entities():
    assert own_entities("What did Wang Binying say in 2015?") == ["Wang Binying", "2015"]
    assert own_entities("Who attended it?") == []


FIRST = Turn("Who attended the Beijing WIPO meeting?", "Yin Hejun met Wang Binying. [1]", ("000",),
             "Who attended the Beijing WIPO meeting?", "Yin Hejun and Wang Binying")


@pytest.mark.parametrize("question, followup", [
    ("What did she thank Beijing for?", True),  # a pronoun
    ("Between whom?", True),  # too short to stand alone
    ("What was he appointed to?", True),
    ("And the year?", True),
    ("How many cities have started working to become a demonstration city of the national IP work?", False),
    ("Who presided over the special meeting on IP protection?", False),
])
def test_followup_detection(question, followup):
    assert is_followup(question, [FIRST]) is followup
    assert is_followup(question, []) is False


def test_resolve_carries_context_and_the_cited_article():
    resolved = resolve("What did she thank Beijing for?", [FIRST])
    assert resolved.followup and resolved.prefer == ("000",)
    assert "Wang Binying" in resolved.context and "WIPO" in resolved.context
    assert resolved.search_query.startswith("What did she thank Beijing for?")
    fresh = resolve("Who presided over the special meeting on IP protection?", [FIRST])
    assert not fresh.followup and fresh.search_query == fresh.question and fresh.prefer == ()


def test_a_long_chain_of_followups_keeps_the_context_bounded():
    history = [FIRST]
    for _ in range(10):
        resolved = resolve("And then what did she say?", history)
        history.append(Turn("And then what did she say?", "...", ("000",), resolved.search_query))
    assert len(resolve("And then?", history).context.split()) <= 40


class _Weights:
    def weight(self, term: str) -> float:
        return 1.0


def test_the_reader_reads_a_followup_in_each_form_and_a_first_turn_as_asked():
    from retrieval.question.query import FOLLOWUP_FORMS, FOLLOWUP_READ, parse

    followup = parse("What did she thank Beijing for?", _Weights(), history=[FIRST])
    context = followup.context
    assert followup.reader_question_as("asked") == "What did she thank Beijing for?"
    assert followup.reader_question_as("context first") == f"{context} What did she thank Beijing for?"
    assert followup.reader_question_as("context last") == f"What did she thank Beijing for? {context}"
    assert FOLLOWUP_READ in FOLLOWUP_FORMS and followup.reader_question == followup.reader_question_as(FOLLOWUP_READ)
    first = parse("Who presided over the special meeting?", _Weights(), history=[FIRST])
    assert {first.reader_question_as(form) for form in FOLLOWUP_FORMS} == {"Who presided over the special meeting?"}
    with pytest.raises(ValueError, match="unknown follow-up form"):
        followup.reader_question_as("sideways")
