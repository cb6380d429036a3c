"""Set answers and "Who is X?" over the seed articles with the real models: semantic outcomes (issue 35)."""

import pytest

from retrieval.engine import ask

pytestmark = pytest.mark.model

PARKS = ["Zhongguancun Science Park", "Huairou Science and Education Park", "Beijing Future Science Park",
         "Beijing Economic-Technological Development Area"]


def test_a_set_in_one_sentence_comes_out_whole_with_its_offsets(seeds_engine):
    answer = ask(seeds_engine, "Which parks make up the Three Parks and One Area?")
    assert [m.text for m in answer.members] == PARKS
    assert answer.span == ", ".join(PARKS[:-1]) + " and " + PARKS[-1]
    article = seeds_engine.index.version.articles["000_e3717a06dcafe9c2"]
    assert all(article.text[m.start:m.end] == m.text and m.article_id == article.id for m in answer.members)
    quoted = [(s.start, s.end) for c in answer.citations for s in c.sentences]
    assert all(any(a <= m.start and m.end <= b for a, b in quoted) for m in answer.members)  # each member quoted


def test_every_vice_mayor_is_named_from_one_article(seeds_engine):
    answer = ask(seeds_engine, "Which vice mayors attended the special meeting on IP protection?")
    assert all(name in answer.span for name in ("Ji Lin", "Zhao Fengtong", "Sun Anmin", "Lu Hao"))
    assert {c.article_id for c in answer.citations} == {"001_8e419ac86f532f57"}


def test_a_question_with_one_answer_keeps_one_span(seeds_engine):
    answer = ask(seeds_engine, "Who presided over the special meeting on IP protection?")
    assert answer.span == "Wang Qishan" and answer.members == ()


def test_who_is_gets_the_role(seeds_engine):
    answer = ask(seeds_engine, "Who is Wang Binying?")
    assert answer.span.startswith("Deputy Director General of World Intellectual Property Organization")
    assert answer.citations[0].article_id == "000_e3717a06dcafe9c2"


def test_a_set_question_the_articles_do_not_answer_says_so(seeds_engine):
    answer = ask(seeds_engine, "Which officials attended the chocolate cake festival?")
    assert answer.abstained and answer.members == () and not answer.citations
