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


# CoQA's turns (shared/convqa): free-text answers, a kind, and the articles the conversation is asked over.
SPAN = Item("c1", "What is his title?", "s", "Secretary of State John Kerry", kind="span",
            answers=("Secretary of State",), article_ids=("s",))
YES = Item("c1.2", "Did he backpedal?", "s", "had to backpedal", kind="yesno", answers=("Yes",), article_ids=("s",))
NO_TURN = Item("c1.3", "Was it once?", "s", "more than once", kind="yesno", answers=("No, more than once",),
               article_ids=("s",))
FREE = Item("c1.4", "And his title?", "s", "Sen. John McCain", kind="free", answers=("Senator",), article_ids=("s",))


def test_coqa_figures_by_hand():
    answered = [
        # "the Secretary of State" against "Secretary of State": exact after normalisation, F1 1
        (SPAN, Answer("", "x [1]", (cite(1, "s", "Secretary of State John Kerry"),), span="the Secretary of State"), False),
        # a right verdict; the verdict is all CoQA scores
        (YES, Answer("", "Yes. x [1]", (cite(1, "s", "had to backpedal"),), span="yes"), True),
        # a wrong verdict ("yes" against "No, more than once"): F1 0 and not right
        (NO_TURN, Answer("", "Yes. x [1]", (cite(1, "x", "elsewhere"),), span="yes"), True),
        # refused: F1 0, counted as refused
        (FREE, Answer("", "The articles don't say.", (), abstained=True, span="Senator"), True),
    ]
    f = score(answered)
    assert f["coqa_f1"] == pytest.approx(2 / 4) and f["first_turn_coqa_f1"] == 1.0
    assert f["followup_coqa_f1"] == pytest.approx(1 / 3, abs=1e-4)
    assert f["coqa_f1/span"] == 1.0 and f["coqa_f1/yesno"] == 0.5 and f["coqa_f1/free"] == 0.0
    assert f["yesno_right"] == 0.5 and f["counts"]["yesno_right"] == 2
    assert f["refused"] == 0.25
    # the first citation's article: right on the first turn; right, then wrong, on the follow-ups that cite
    assert f["article@1"] == 1.0 and f["followup_article@1"] == 0.5 and f["counts"]["followup_article@1"] == 2


def test_a_span_answer_without_a_span_scores_zero_but_is_not_a_refusal():
    f = score([(SPAN, Answer("", "x [1]", (cite(1, "s", "Secretary of State John Kerry"),), span=None), False)])
    assert f["coqa_f1"] == 0.0 and f["refused"] == 0.0


def test_conversations_carry_their_articles_and_kinds(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "c", "article_ids": ["s"], "turns": [{"question": "Who?", "article": "s", '
                    '"evidence": "x", "answers": ["Kerry"], "kind": "span"}, {"question": "Did he?", '
                    '"article": "s", "evidence": "x", "answers": ["yes"], "kind": "yesno"}]}\n')
    [conversation] = load_questions(path)
    assert [t.kind for t in conversation] == ["span", "yesno"] and conversation[1].article_ids == ("s",)
    assert conversation[0].answers == ("Kerry",)


@pytest.mark.parametrize("record, expected", [
    ('{"turns": [{"question": "Who?", "kind": "maybe"}]}', "kind 'maybe' is none of span, yesno, free"),
    ('{"article_ids": "s", "turns": [{"question": "Who?"}]}', "article_ids must be a list"),
    ('{"article_ids": [3], "turns": [{"question": "Who?"}]}', "article_ids must be a list"),
    ('{"question": "Who?", "answers": [1]}', "answer and answers must be lists of strings"),
])
def test_a_bad_conversation_record_is_a_clear_error(tmp_path, record, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text(record + "\n")
    with pytest.raises(BadQuestionsFile, match="line 1"):
        try:
            load_questions(path)
        except BadQuestionsFile as err:
            assert expected in str(err)
            raise


def test_coqa_conversations_split_by_story():
    conversations = load_questions(SHARED / "convqa" / "coqa-cnn-dev" / "conversations.jsonl")
    tuning, reporting = select_part(conversations, "tuning"), select_part(conversations, "reporting")
    assert not {c[0].article for c in tuning} & {c[0].article for c in reporting}
    assert all(t.article_ids == (t.article,) for c in conversations for t in c)
