"""Sentences and passages: exact offsets, sensible sizes, nothing from the menu."""

import re

import pytest

from retrieval.articles.folder import parse_article, read_folder
from retrieval.articles.passages import MAX_WORDS, split_passages
from retrieval.articles.sentences import split_sentences
from tests.conftest import MENU_ARTICLE, SEEDS


@pytest.fixture(scope="module")
def seed_passages():
    return {a.id: (a, split_passages(a)) for a in read_folder(SEEDS)[0]}


def test_offsets_are_exact_for_every_seed_passage(seed_passages):
    for article, passages in seed_passages.values():
        assert passages
        for p in passages:
            assert article.text[p.start:p.end] == p.text
            assert p.id.startswith(article.id + "#")


def test_no_passage_contains_the_menu(seed_passages):
    article, passages = seed_passages[MENU_ARTICLE]
    menu_labels = ["Trademark Information", "PATENTSCOPE", "Job Vacancies", "WIPO Lex", "Oversight"]
    for p in passages:
        assert not any(label in p.text for label in menu_labels)


def test_windows_overlap_by_one_sentence_and_stay_in_size(seed_passages):
    for article, passages in seed_passages.values():
        for a, b in zip(passages, passages[1:]):
            shared = article.text[b.start:a.end]
            assert b.start < a.end and shared in split_sentences_text(article)
        for p in passages:
            assert len(p.text.split()) <= MAX_WORDS * 1.3


def split_sentences_text(article):
    return {article.text[s:e] for s, e in split_sentences(article.text)}


@pytest.mark.parametrize("text, count", [
    ("Mr. Gurry thanked them. He left.", 2),
    ("Huawei Technologies Co., Ltd and ZTE Corp. - were among the top three. Next sentence.", 2),
    ("Sales in the U.S. rose. The U.S. Patent Office agreed.", 2),
    ("He joined Acme Corp. The company grew.", 2),
    ("Dr. J. Smith spoke at 3 p.m. on Monday.", 1),
    ("It rose 2.5 per cent! Was it enough? Nobody knows.", 3),
    ("Line one without a stop\nLine two.", 2),
])
def test_sentence_splitter_survives_abbreviations(text, count):
    spans = split_sentences(text)
    assert len(spans) == count, [text[s:e] for s, e in spans]
    for s, e in spans:
        assert text[s:e] == text[s:e].strip()


def test_a_run_on_line_is_cut_into_passages():
    text = "Title\n\n" + " ".join(f"word{i}" for i in range(1000))
    passages = split_passages(parse_article("runon", text))
    assert len(passages) >= 1000 // MAX_WORDS
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    assert all(text[p.start:p.end] == p.text for p in passages)


def test_crlf_text_is_normalised_and_offsets_hold():
    article = parse_article("crlf", "Title\r\n\r\nFirst sentence here. Second one.\r\n")
    (p,) = split_passages(article)
    assert p.text == "First sentence here. Second one."
    assert not re.search("\r", article.text)
