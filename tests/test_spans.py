"""Spans with spaCy's small English pipeline on sentences made for the test."""

from pathlib import Path

import pytest

from retrieval.answer import Sentence
from retrieval.question import answer_type
from retrieval.spans import find_span
from retrieval.types import Hit, Passage


def sentences(*texts):
    out = []
    for rank, text in enumerate(texts):
        passage = Passage(f"a#{rank}", rank, "a", "Title", 0, len(text), text)
        out.append(Sentence(Hit(passage, 1.0, 0.5), rank, 0, len(text), text))
    return out


@pytest.mark.parametrize("question, text, span", [
    ("Who presided over the meeting?",
     "Wang Qishan, Mayor of Beijing, presided over the meeting on Tuesday.", "Wang Qishan"),
    ("When was the base inaugurated?", "On April 23, the base was inaugurated in Beijing.", "April 23"),
    ("How many cities have started the work?", "Up to date, a total of 38 cities have started the work.", "38"),
    ("Who attended the meeting?", "Yin Hejun met with Wang Binying and Chen Hongbing at the meeting they attended.",
     "Yin Hejun, Wang Binying and Chen Hongbing"),
])
def test_typed_spans(question, text, span):
    assert find_span(question, answer_type(question), sentences(text)) == span


def test_no_span_for_plain_what_questions_or_without_a_candidate():
    assert find_span("What was signed?", None, sentences("The plan was signed by both offices.")) is None
    question = "Who presided over the meeting?"
    assert find_span(question, answer_type(question), sentences("The meeting was long and quiet.")) is None


def test_a_name_the_question_already_gives_is_not_the_answer():
    question = "Who gave the plaque to Wu Yimin?"
    text = "Zhang Qin, Deputy Commissioner of SIPO, gives out the plaque to Executive Vice Mayor Wu Yimin."
    assert find_span(question, answer_type(question), sentences(text)) == "Zhang Qin"


def test_the_doer_is_found_by_word_order_before_the_verb_or_after_by():
    question = "Who opened the bridge?"
    assert find_span(question, answer_type(question), sentences(
        "The bridge was opened by Chen Hongbing in March, as Li Wei watched.")) == "Chen Hongbing"
    assert find_span(question, answer_type(question), sentences(
        "As Li Wei watched in March, Chen Hongbing, director of the office, opened the bridge.")) == "Chen Hongbing"


def test_numpy_blas_runs_one_thread_once_spacy_is_loaded():
    """Its spinning threads would take the core another question or the server's event loop needs."""
    from threadpoolctl import threadpool_info

    from retrieval.spans import parse

    parse("Wang Qishan met Francis Gurry in Beijing.")
    numpy_blas = [lib for lib in threadpool_info()
                  if lib["user_api"] == "blas" and Path(lib["filepath"]).parent.name == "numpy.libs"]
    assert numpy_blas and all(lib["num_threads"] == 1 for lib in numpy_blas)
