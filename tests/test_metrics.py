"""The evaluation's figures against values computed by hand, and the split of questions by article."""

from __future__ import annotations

import pytest

from retrieval.evaluate.metrics import squad_normalise, token_f1
from retrieval.evaluate.run import BadQuestionsFile, Item, load_questions, part_of, score, select_part
from retrieval.types import Answer, Citation
from tests.conftest import SHARED


def cite(n: int, article: str, quote: str) -> Citation:
    return Citation(n, article, "t", f"{article}#0", quote, 0, len(quote), 1.0)


Q1 = Item("q1", "Who opened the bridge?", "a", "Ines Duarte opened", ("Ines Duarte",))
Q2 = Item("q2", "How much did it cost?", "b", "40 million euros", ("40 million euros",))
Q3 = Item("q3", "What was built?", "c", "the new bridge", ("the new bridge",))
NO = Item("q4", "Who won the cup?", abstain=True)


def test_hit_at_k_mrr_answer_hit_and_spans_by_hand():
    answered = [
        # supported at rank 1; span exact after normalisation ("the" and punctuation go)
        (Q1, Answer("", "Ines Duarte opened the bridge. [1]", (cite(1, "a", "Mayor Ines Duarte opened it."),),
                    span="Ines Duarte."), False),
        # supported at rank 2 only: hit@1 0, hit@3 1, reciprocal rank 1/2; span "40 million" vs "40 million euros"
        (Q2, Answer("", "It cost 40 million. [1] [2]", (cite(1, "x", "unrelated"), cite(2, "b", "cost 40 million euros")),
                    span="40 million"), False),
        # not supported; no span (F1 0); a plain "what" question: in span_*_all only
        (Q3, Answer("", "Something else. [1]", (cite(1, "c", "nothing here"),), span=None), False),
        (NO, Answer("", "The articles don't say.", (), abstained=True), False),
    ]
    f = score(answered)
    assert f["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert f["hit@3"] == pytest.approx(2 / 3, abs=1e-4)
    assert f["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert f["answer_hit"] == pytest.approx(1 / 3, abs=1e-4)  # "40 million euros" is not in "40 million"
    assert f["abstain_rate"] == 1.0 and f["false_abstain"] == 0.0
    # span F1 of "40 million" against "40 million euros": precision 1, recall 2/3, F1 0.8
    assert f["span_exact_all"] == pytest.approx(1 / 3, abs=1e-4)
    assert f["span_f1_all"] == pytest.approx((1 + 0.8 + 0) / 3, abs=1e-4)
    assert f["span_f1"] == pytest.approx((1 + 0.8) / 2, abs=1e-4)  # who and how much only
    assert f["counts"]["span_f1_all"] == 3 and f["questions"] == 4


def test_span_figures_take_the_best_gold_answer():
    item = Item("q", "Who attended?", "a", "x", ("Yin Hejun", "Wang Binying"))
    f = score([(item, Answer("", "x [1]", (cite(1, "a", "x"),), span="Wang Binying"), False)])
    assert f["span_exact_all"] == 1.0 and f["span_f1_all"] == 1.0


def test_follow_ups_are_counted_apart():
    f = score([(Q1, Answer("", "Ines Duarte [1]", (cite(1, "a", "Ines Duarte opened"),)), False),
               (Q2, Answer("", "no [1]", (cite(1, "z", "other"),)), True)])
    assert f["hit@1"] == 1.0 and f["followup_hit@3"] == 0.0 and f["followup_answer_hit"] == 0.0


def test_squad_normalisation_and_token_f1():
    assert squad_normalise("The  Eiffel-Tower, an icon!") == "eiffeltower icon"
    assert token_f1("the cat sat", "a cat sat down") == pytest.approx(2 * (1.0 * 2 / 3) / (1.0 + 2 / 3))
    assert token_f1("", "anything") == 0.0 and token_f1("dog", "cat") == 0.0


def test_the_parts_split_by_article_and_cover_everything():
    conversations = load_questions(SHARED / "eval" / "xquad" / "dev.jsonl")
    tuning, reporting = select_part(conversations, "tuning"), select_part(conversations, "reporting")
    assert len(tuning) + len(reporting) == len(conversations) and tuning and reporting
    article = lambda c: c[0].article.rsplit("-", 1)[0]  # xq07-3 is a paragraph of article xq07
    assert not {article(c) for c in tuning} & {article(c) for c in reporting}
    assert all(part_of(c) == "reporting" for c in reporting)


def test_an_unknown_or_empty_part_is_a_clear_error():
    conversations = load_questions(SHARED / "eval" / "dev.jsonl")
    with pytest.raises(BadQuestionsFile, match="unknown part 'half'"):
        select_part(conversations, "half")
    only_tuning = [c for c in conversations if part_of(c) == "tuning"]
    with pytest.raises(BadQuestionsFile, match="reporting part of these questions is empty"):
        select_part(only_tuning, "reporting")
