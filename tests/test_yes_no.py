"""Polar questions answered yes or no with the sentence that decides it, and a first turn with nothing to lean on.

The engine here is the real one (the real reader) over the tiny articles with the hashing embedder."""

import pytest

from retrieval.answer.compose import WHAT_ABOUT
from retrieval.answer.verdict import evidence, negated, verdict
from retrieval.engine import ask
from retrieval.question.wording import is_yes_no
from tests.conftest import write_corpus

pytestmark = pytest.mark.model


@pytest.mark.parametrize("question, polar", [
    ("Did he resign?", True), ("And was it in Beijing?", True), ("Isn't the bridge open?", True),
    ("Didn’t he go?", True), ("Was it in May or in June?", False), ("Who attended?", False), ("When?", False),
    ("Islands?", False), ("Does the library open on Sundays?", True),
])
def test_polar_questions_are_told_by_their_form(question, polar):
    assert is_yes_no(question) is polar


def test_the_verdicts_signals_by_hand():
    e = evidence("Did the mayor open the bridge?", "The mayor did not open the bridge.")
    assert e.overlap == 1.0 and e.sentence_negated == 1.0 and e.question_negated == 0.0 and e.negation_differs == 1.0
    assert evidence("Did Luis Prado open it?", "The mayor opened it.").missing_name == 1.0
    assert negated("He wasn't there") and negated("She refused the offer") and not negated("He was there")
    # the fitted model: a sentence that denies what the question asserts leans further from yes than one that agrees
    agrees = evidence("Did the mayor open the bridge?", "The mayor opened the bridge.").yes_probability
    denies = evidence("Did the mayor open the bridge?", "The mayor did not open the bridge.").yes_probability
    assert agrees > denies
    assert verdict("Did the mayor open the bridge?", "The mayor opened the bridge.", min_sure=0.0) == "yes"
    assert verdict("Did the mayor open the bridge?", "The mayor did not open the bridge.", min_sure=1 - denies) == (
        "yes" if denies >= 0.5 else "no")
    assert verdict("Did the mayor open the bridge?", "The mayor opened the bridge.", min_sure=1.01) is None


@pytest.fixture
def yes_no_engine(tmp_path, hashing):
    from retrieval.engine import Engine
    from retrieval.index.files.refresh import build

    corpus = write_corpus(tmp_path / "corpus", {
        "ferry": "Ferry Service Ends\n\nThe old ferry of Port Alba made its last crossing on June 5, 2019. "
                 "The captain, Rui Lopes, did not attend the farewell ceremony. The harbour museum will keep the ferry's bell.\n",
        "library": "City Library Extends Opening Hours\n\nThe central library of Port Alba will open on Sundays from May. "
                   "The librarian, Tomas Reis, said that 900 readers had signed a petition asking for weekend hours.\n",
    })
    build(corpus, tmp_path / "index", hashing)
    return Engine.open(tmp_path / "index", hashing)


def test_a_polar_question_is_answered_yes_with_the_sentence_that_decides_it(yes_no_engine):
    answer = ask(yes_no_engine, "Will the central library open on Sundays?")
    assert answer.span == "yes" and answer.text.startswith("Yes. ")
    assert "open on Sundays" in answer.text and answer.citations[0].article_id == "library"
    assert len(answer.citations) == 1 and len(answer.citations[0].sentences) == 1  # the one deciding sentence


def test_a_sentence_that_denies_it_is_never_a_yes(yes_no_engine):
    """"No" when the model is sure of it; otherwise the deciding sentence alone, without a verdict."""
    answer = ask(yes_no_engine, "Did the captain attend the farewell ceremony?")
    assert answer.span in ("no", None) and not answer.text.startswith("Yes")
    assert answer.text.startswith("No. ") == (answer.span == "no")
    assert "did not attend" in answer.text and answer.citations[0].article_id == "ferry"


def test_a_follow_up_polar_question_reads_the_conversation(yes_no_engine):
    first = ask(yes_no_engine, "Who was the captain of the old ferry?")
    answer = ask(yes_no_engine, "Did he attend the farewell ceremony?", [first.as_turn()])
    assert answer.span in ("no", None) and "did not attend" in answer.text and answer.citations[0].article_id == "ferry"


def test_a_first_turn_with_nothing_to_lean_on_asks_what_it_is_about(yes_no_engine):
    answer = ask(yes_no_engine, "When?")
    assert answer.abstained and answer.text == WHAT_ABOUT and not answer.citations
    assert answer.details["needs_context"] and answer.span is None
    # the same words lean on the conversation once there is one, or on the article asked over
    first = ask(yes_no_engine, "When did the old ferry make its last crossing?")
    assert "June 5, 2019" in ask(yes_no_engine, "When?", [first.as_turn()]).text
    assert not ask(yes_no_engine, "When?", article_ids=["ferry"]).details.get("needs_context")
