"""Search terms: the remembered stems give what stemming gives, sentence by sentence or whole."""

import pytest

from retrieval import terms as terms_module
from retrieval.articles.sentences import sentences_with_terms, split_sentences
from retrieval.terms import IRREGULAR, STOP_WORDS, stem, terms, tokens

TEXTS = [
    "Wang Qishan, Mayor of Beijing, met Francis Gurry at the WIPO office on Tuesday.",
    "The ﬁrst ofﬁce opened in 2014. It is run by Chen Hongbing.",  # ligatures: folding moves offsets
    "Café owners in São Paulo filed 2.57 million trademarks. Mr. O’Neil said so!",
    "",
]


def stemmed_afresh(text: str) -> list[str]:
    """The definition, with nothing remembered: every token stemmed, stop words dropped."""
    return stem([t for t in tokens(text) if IRREGULAR.get(t, t) not in STOP_WORDS])


@pytest.mark.parametrize("text", TEXTS)
def test_terms_match_stemming_afresh(text):
    assert terms(text) == stemmed_afresh(text)
    assert terms(text) == stemmed_afresh(text)  # the second time from the table


def test_a_full_table_is_emptied_and_terms_stay_right(monkeypatch):
    monkeypatch.setattr(terms_module, "MAX_REMEMBERED", 8)
    monkeypatch.setattr(terms_module, "_TERM_OF", {})
    most = max(8, *(len(set(tokens(text))) for text in TEXTS))  # one text's words are kept whole
    for text in TEXTS * 2:
        assert terms(text) == stemmed_afresh(text)
        assert len(terms_module._TERM_OF) <= most


def test_a_stop_word_is_remembered_as_no_term():
    assert terms("the The THE") == []
    assert terms("met the mayor") == stemmed_afresh("met the mayor") == ["meet", "mayor"]


@pytest.mark.parametrize("text", TEXTS)
def test_sentence_terms_are_each_sentences_own(text):
    expected = tuple((s, e, tuple(stemmed_afresh(text[s:e]))) for s, e in split_sentences(text))
    assert sentences_with_terms(text) == expected
