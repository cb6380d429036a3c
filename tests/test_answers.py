"""`ask` on the seed articles with the real model: semantic outcomes and the dev-set figures."""

import re

import pytest

from retrieval.engine import ask
from retrieval.errors import BadQuestion
from retrieval.evaluate.run import evaluate, load_questions, select_part
from tests.conftest import SHARED

pytestmark = pytest.mark.model


def citations_match_text(answer):
    used = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    return used == {c.n for c in answer.citations}


def test_who_presided(seeds_engine):
    answer = ask(seeds_engine, "Who presided over the special meeting on IP protection?")
    assert not answer.abstained
    assert answer.citations[0].article_id == "001_8e419ac86f532f57"
    assert "Wang Qishan" in answer.text
    assert citations_match_text(answer)
    c = answer.citations[0]
    article = seeds_engine.index.version.articles[c.article_id]
    assert article.text[c.start:c.end] == c.quote  # a citation is traceable to the exact characters


def test_who_attended_names_the_people(seeds_engine):
    answer = ask(seeds_engine, "Who attended the Beijing WIPO meeting?")
    assert "Yin Hejun" in answer.text and "Wang Binying" in answer.text
    assert answer.citations[0].article_id == "000_e3717a06dcafe9c2"


@pytest.mark.parametrize("question", ["What is the recipe for a chocolate cake?", "Who won the 2018 FIFA World Cup?",
                                      "What is the population of Beijing?"])
def test_unanswerable_questions_abstain(seeds_engine, question):
    answer = ask(seeds_engine, question)
    assert answer.abstained and not answer.citations and "don't say" in answer.text


def test_follow_up_is_understood_in_context(seeds_engine):
    first = ask(seeds_engine, "Who attended the Beijing WIPO meeting?")
    answer = ask(seeds_engine, "What did she thank Beijing for?", [first.as_turn()])
    assert answer.citations and answer.citations[0].article_id == "000_e3717a06dcafe9c2"
    assert "thanks" in answer.text and "support" in answer.text


def test_a_new_question_starts_fresh(seeds_engine):
    first = ask(seeds_engine, "Who attended the Beijing WIPO meeting?")
    answer = ask(seeds_engine, "How many cities have started working to become a demonstration city?", [first.as_turn()])
    assert answer.search_query == "How many cities have started working to become a demonstration city?"
    assert answer.citations[0].article_id == "004_ceff735c4c707526"


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 1001, None, 42])
def test_bad_questions_are_refused(seeds_engine, question):
    with pytest.raises(BadQuestion):
        ask(seeds_engine, question)


def test_odd_but_valid_questions_are_read_through_their_noise(seeds_engine):
    """Direction marks and markdown do not change which sentence answers; questions with nothing to
    search for are refused with nothing cited, not answered at random."""
    for odd, plain in [("\u202eWho presided?\u202c", "Who presided?"), ("**who** `attended`?", "who attended?")]:
        noisy, clean = ask(seeds_engine, odd), ask(seeds_engine, plain)
        assert not noisy.abstained and noisy.citations
        first = [(c.passage_id, c.sentences[0]) for c in (noisy.citations[0], clean.citations[0])]
        assert first[0] == first[1], odd
    for nonsense in ["🤔🤔🤔", "<script>alert(1)</script>", "a\x00b\x07c?"]:
        answer = ask(seeds_engine, nonsense)
        assert answer.abstained and answer.citations == () and answer.span is None, nonsense


def test_dev_set_figures(seeds_engine):
    """Regression bands around what `citeqa eval` measured (docs/benchmarks.md), not every question right."""
    conversations = load_questions(SHARED / "eval" / "dev.jsonl")
    whole = evaluate(seeds_engine, conversations).figures
    # Measured: hit@1 0.909 (10 of 11), hit@3 1.0, answer_hit 1.0, span_f1_all 0.65, abstain_rate 1.0.
    assert whole["hit@1"] >= 0.9 and whole["hit@3"] == 1.0
    assert whole["answer_hit"] >= 0.9 and whole["span_f1_all"] >= 0.6
    assert whole["abstain_rate"] == 1.0 and whole["false_abstain"] == 0.0
    assert whole["followup_hit@3"] == 1.0 and whole["followup_answer_hit"] >= 0.5
    reporting = evaluate(seeds_engine, select_part(conversations, "reporting")).figures
    assert reporting["hit@3"] == 1.0 and reporting["answer_hit"] >= 0.8 and reporting["abstain_rate"] == 1.0


def test_unanswerable_questions_written_for_the_seeds(seeds_engine):
    from tests.conftest import ROOT

    figures = evaluate(seeds_engine, load_questions(ROOT / "tests/data/unanswerable_seeds.jsonl")).figures
    # Measured 0.94 (15 of 16; 0.75 before the abstention model was fitted on the name-swapped questions
    # too); the threshold keeps false abstentions at 1 % or under on the tuning parts, which costs some.
    assert figures["abstain_rate"] >= 0.85


def test_near_topic_questions_with_a_name_swapped_are_refused_on_the_seeds(seeds_engine):
    from tests.conftest import ROOT

    conversations = load_questions(ROOT / "tests/data/swapped_unseen_seeds.jsonl")
    figures = evaluate(seeds_engine, select_part(conversations, "reporting")).figures
    assert figures["abstain_rate"] >= 0.75  # measured 1.0 (4 of 4; 1 of 4 before)


@pytest.fixture(scope="module")
def xquad_engine(minilm, tmp_path_factory):
    from retrieval.engine import Engine
    from retrieval.index.files.refresh import build

    index_dir = tmp_path_factory.mktemp("xquad-index")
    build(SHARED / "eval" / "xquad" / "corpus", index_dir, minilm)
    return Engine.open(index_dir, minilm)


def test_xquad_figures_generalise(xquad_engine):
    """The reporting half of XQuAD (articles no weight was fitted on), retrieval over all 240 paragraphs."""
    figures = evaluate(xquad_engine, select_part(load_questions(SHARED / "eval" / "xquad" / "dev.jsonl"),
                                                 "reporting")).figures
    # Measured (docs/benchmarks.md): hit@1 0.936, answer_hit 0.895, span_f1_all 0.719, false_abstain 0.017; bands of
    # a few questions, since the torch and ONNX embedders' vectors differ in the last digits.
    assert figures["hit@1"] >= 0.92
    assert figures["answer_hit"] >= 0.88
    assert figures["span_f1_all"] >= 0.70
    assert figures["false_abstain"] <= 0.03


@pytest.mark.parametrize("kind, least", [("unseen", 0.88), ("elsewhere", 0.17)])
def test_xquad_near_topic_questions_with_a_name_swapped(xquad_engine, kind, least):
    """Reporting-half questions of XQuAD with one name replaced (benchmarks/swapped_names.py): by a name
    no article writes, or by one another article writes. Measured 0.941 and 0.232 of 185 each (0.605 and
    0.162 before the abstention model was fitted on the tuning half's)."""
    from tests.conftest import ROOT

    conversations = load_questions(ROOT / "tests" / "data" / f"swapped_{kind}_xquad.jsonl")
    figures = evaluate(xquad_engine, select_part(conversations, "reporting")).figures
    assert figures["abstain_rate"] >= least
