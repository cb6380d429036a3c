"""The set figures of `citeqa eval` (retrieval/evaluate/lists.py) against values worked out by hand."""

import pytest

from retrieval.evaluate.lists import item_f1, list_figures, matches, names
from retrieval.evaluate.run import Item, load_questions, score
from retrieval.types import Answer, Citation, Member

GOLD = ("Yin Hejun", "Wang Binying", "Chen Hongbing", "Wang Hong")


def answer(span, text, article="a1", members=()):
    citation = Citation(1, article, "t", f"{article}#0", text, 0, len(text), 1.0)
    return Answer("q", text + " [1]", (citation,), span=span, members=tuple(Member(m, article, 0, 1) for m in members))


def test_names_wants_whole_words_in_order():
    assert names("Yin Hejun met with Wang Binying", "wang binying")
    assert not names("Wang Hongbing", "Wang Hong")  # "Hong" is not "Hongbing"
    assert not names("Binying Wang", "Wang Binying")


def test_item_f1_by_hand():
    # 2 of 4 gold named (recall 1/2); 2 of 3 predicted are gold (precision 2/3): F1 = 2 * (1/2 * 2/3) / (7/6) = 4/7.
    assert item_f1(["Yin Hejun", "Wang Binying", "Beijing"], list(GOLD)) == pytest.approx(4 / 7)
    assert item_f1(["the Yin Hejun"], ["Yin Hejun"]) == 1.0
    assert item_f1([], ["x"]) == 0.0 and matches("Vice Mayor Ji Lin", "Ji Lin")


def test_list_figures_by_hand():
    # The span names 3 of 4; the sentences hold all 4; first citation from the right article; 3 members, 2 gold.
    item = Item("i", "Who attended?", article="a1", members=GOLD)
    got = answer("Yin Hejun, Wang Binying and Wang Hongbing",
                 "Yin Hejun met Wang Binying. Chen Hongbing and Wang Hong joined.", members=("Yin Hejun", "Wang Binying", "Wang Hongbing"))
    figures = list_figures(item, got)
    assert figures == {"list_span_recall": 0.5, "list_sentences_hold_all": 1.0, "list_first_citation": 1.0,
                       "list_member_precision": pytest.approx(2 / 3)}
    wrong = answer("Wang Binying", "Wang Binying spoke.", article="other")
    assert list_figures(item, wrong) == {"list_span_recall": 0.25, "list_sentences_hold_all": 0.0,
                                         "list_first_citation": 0.0, "list_member_precision": 1.0}


def test_eval_reports_the_set_figures_only_for_questions_with_members(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Who attended?", "article": "a1", "evidence": "met", '
                    '"answer": ["Yin Hejun"], "members": ["Yin Hejun", "Wang Binying"]}\n'
                    '{"id": "b", "question": "Who spoke?", "article": "a1", "evidence": "met", "answer": ["Yin Hejun"]}\n')
    (a,), (b,) = load_questions(path)
    assert a.members == ("Yin Hejun", "Wang Binying") and b.members == ()
    got = answer("Yin Hejun", "Yin Hejun met someone.")
    figures = score([(a, got, False), (b, got, False)])
    assert figures["counts"]["list_span_recall"] == 1 and figures["list_span_recall"] == 0.5
    # A set's members are not alternative answers: only the single-answer question counts for span_exact_all.
    assert figures["counts"]["span_exact_all"] == 1 and figures["span_exact_all"] == 1.0
