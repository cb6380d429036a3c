"""Set answers made whole and "Who is X?" roles (retrieval/answer/lists.py, roles.py, coordination.py), on real
sentences parsed by spaCy, with readings written by hand where a test needs the reader's scores."""

import pytest

from bot.api.schemas import AskOut
from bot.render import TELEGRAM_LIMIT, telegram_html
from retrieval.answer import coordination
from retrieval.answer.candidates import Sentence
from retrieval.answer.compose import compose
from retrieval.answer.lists import complete, join
from retrieval.answer.roles import asked_name, who_is
from retrieval.answer.spans import Reading
from retrieval.question.query import Query
from retrieval.question.sets import set_probability
from retrieval.types import Answer, Hit, Member, Passage

FIRST = "Wang Qishan, Mayor of Beijing, presided the meeting."
SECOND = "Executive Vice Mayor Ji Lin, Vice Mayor Zhao Fengtong, Sun Anmin and Lu Hao attended the meeting."
ARTICLE = f"{FIRST} {SECOND}"


def reading(text: str, span: str, margin: float, article: str = "a", article_text: str = ARTICLE) -> Reading:
    start = article_text.index(text)
    passage = Passage(f"{article}#0", 0, article, "t", 0, len(article_text), article_text)
    sentence = Sentence(Hit(passage, 1.0), 0, start, start + len(text), text, 1.0)
    at = start + text.index(span)
    return Reading(sentence, at, at + len(span), margin, 0.0, 0.5, margin)


def query(text: str) -> Query:
    return Query(asked=text, text=text, terms=(), wanted={}, search_terms=(), search_wanted={}, kind="PERSON")


def test_a_coordination_in_the_answer_comes_out_whole_with_offsets():
    r = reading(SECOND, "Ji Lin", 9.0)
    listed = complete(query("Which vice mayors attended?"), [r], [r], p_set=1.01, margin=100, co_arguments=False,
                      p_coordinated=0.0)
    assert listed.span == "Ji Lin, Zhao Fengtong, Sun Anmin and Lu Hao"
    assert [ARTICLE[m.start:m.end] for m in listed.members] == [m.text for m in listed.members]
    assert [m.text for m in listed.members] == ["Ji Lin", "Zhao Fengtong", "Sun Anmin", "Lu Hao"]
    assert listed.sentences == [r.sentence]


def test_sentences_of_the_article_the_reader_answers_in_are_added_in_order_others_are_not():
    first, second = reading(SECOND, "Ji Lin", 9.0), reading(FIRST, "Wang Qishan", 6.0)
    elsewhere = reading("Liu Bei and Guan Yu attended.", "Liu Bei", 9.0, "b", "Liu Bei and Guan Yu attended.")
    listed = complete(query("Who attended?"), [first, elsewhere, second], [first], p_set=0.0, margin=5.0,
                      co_arguments=False, p_coordinated=0.0)
    assert [s.text for s in listed.sentences] == [FIRST, SECOND]  # the article's order; no other article
    assert listed.span == "Wang Qishan, Ji Lin, Zhao Fengtong, Sun Anmin and Lu Hao"
    below = complete(query("Who attended?"), [first, second], [first], p_set=0.0, margin=7.0, co_arguments=False,
                     p_coordinated=0.0)
    assert [s.text for s in below.sentences] == [SECOND]  # 6.0 over its "no answer" is under the margin


def test_a_question_with_one_answer_keeps_one_span():
    r = reading(FIRST, "Wang Qishan", 9.0)
    assert complete(query("Who presided?"), [r], [r], p_set=0.0, margin=0.0, co_arguments=False, p_coordinated=0.0) is None
    s = reading(SECOND, "Ji Lin", 9.0)
    assert complete(query("Who presided?"), [s], [s], p_set=1.01, margin=100, co_arguments=False,
                    p_coordinated=1.01) is None


def test_co_arguments_make_both_sides_of_a_meeting():
    text = "On May 16th, Yin Hejun met with Wang Binying, Deputy Director General of WIPO."
    doc = coordination.parse(text)
    root = coordination.root_of(doc, text.index("Wang Binying"), text.index("Wang Binying") + 12)
    assert [t.text for t in coordination.co_arguments(root)] == ["Hejun"]


@pytest.mark.parametrize("text, name, role", [
    ("On May 16th, Yin Hejun met with Wang Binying, Deputy Director General of World Intellectual Property "
     "Organization (WIPO).", "Wang Binying", "Deputy Director General of World Intellectual Property Organization (WIPO)"),
    ("WIPO Deputy Director General Binying Wang (center) with the WIPO Office in China team.", "Binying Wang",
     "WIPO Deputy Director General"),
    ("SIPO's Director Shen Changyu spoke.", "Shen Changyu", "SIPO's Director"),
])
def test_a_role_is_the_apposition_or_the_title(text, name, role):
    at = text.index(name)
    found = coordination.role(coordination.parse(text), at, at + len(name))
    assert text[found[0]:found[1]] == role


def test_who_is_quotes_the_sentence_with_the_role():
    text = "Yin Hejun met with Wang Binying, Deputy Director General of WIPO."
    assert asked_name("Who is Wang Binying?") == "Wang Binying" and asked_name("Who attended the meeting?") is None
    r = reading(text, "Yin Hejun", 5.0, article_text=text)
    sentence, start, end = who_is("Who is Wang Binying?", [r.sentence], [r])
    assert text[start:end] == "Deputy Director General of WIPO" and sentence is r.sentence


def test_the_detector_reads_plural_wh_nouns_as_sets():
    assert set_probability("Which companies were the top three filers?") > set_probability("Which company was the top filer?")


def test_join():
    assert join(["A"]) == "A" and join(["A", "B"]) == "A and B" and join(["A", "B", "C"]) == "A, B and C"


def _long_list_answer(n: int = 400) -> Answer:
    names = [f"Official Number{k} Of The Long Committee" for k in range(n)]
    text = ", ".join(names) + " attended the meeting."
    r = reading(text, names[0], 9.0, article_text=text)
    members = tuple(Member(name, "a", text.index(name), text.index(name) + len(name)) for name in names)
    return compose("Who attended?", [r.sentence], span=join(names), members=members)


def test_a_long_list_is_split_for_telegram_between_names_never_inside_one():
    answer = _long_list_answer()
    messages = telegram_html(answer)
    assert len(messages) > 1 and all(len(m) <= TELEGRAM_LIMIT for m in messages)
    for member in answer.members:
        assert sum(f"• {member.text}\n" in m + "\n" for m in messages) == 1, member.text


def test_the_http_answer_carries_the_members_with_offsets():
    answer = _long_list_answer(3)
    out = AskOut.build(answer, "c", 1, 0.1).model_dump()
    assert out["members"] == [{"text": m.text, "article_id": "a", "start": m.start, "end": m.end} for m in answer.members]
    assert out["span"] == join([m.text for m in answer.members])
