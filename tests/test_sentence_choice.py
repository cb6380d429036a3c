"""Which sentences answer, and in what order: pure functions over made-up passages."""

from retrieval.answer import candidate_sentences, choose, compose, query_weights, score_sentences
from retrieval.spans import main_verb
from retrieval.terms import terms
from retrieval.types import Hit, Passage

CEREMONY = ("On April 23, the International Cooperation Base was inaugurated in Beijing. "
            "At the ceremony, the Plan for Cooperation was signed between the two offices.")


def hit(article: str, text: str, score: float = 1.0, n: int = 0) -> Hit:
    return Hit(Passage(f"{article}#{n}", n, article, article.title(), 0, len(text), text), score=score, dense=score)


def answer_for(question: str, hits: list[Hit]):
    wanted = query_weights(question, lambda t: 1.0)
    scored = score_sentences(candidate_sentences(hits), question, wanted)
    return choose(scored, wanted, predicate=lambda: main_verb(question))


def test_main_verb_is_the_content_verb_of_the_question():
    assert main_verb("What was signed at the inauguration ceremony?") == terms("signed")[0]
    assert main_verb("Who attended the meeting?") == terms("attended")[0]
    assert main_verb("What is the capital?") is None  # a copula says nothing
    assert main_verb("Why?") is None


def test_of_two_sentences_of_one_article_the_one_with_the_verb_comes_first():
    chosen = answer_for("What was signed at the inauguration ceremony of the cooperation base?", [hit("base", CEREMONY)])
    assert len(chosen) == 2
    assert "signed" in chosen[0].text
    answer = compose("q", chosen)
    assert answer.text.index("signed") < answer.text.index("inaugurated")


def test_across_articles_the_better_sentence_stays_first():
    hits = [hit("meeting", "Yin Hejun met Wang Binying at the Beijing WIPO meeting on May 16.", 1.0),
            hit("other", "Four vice mayors attended a different meeting.", 0.9)]
    chosen = answer_for("Who attended the Beijing WIPO meeting?", hits)
    assert chosen[0].hit.passage.article_id == "meeting"


def test_one_sentence_when_a_second_adds_nothing():
    hits = [hit("a", "The plan was signed in Beijing. Unrelated weather was sunny and warm all week long.")]
    chosen = answer_for("Where was the plan signed?", hits)
    assert [s.text for s in chosen] == ["The plan was signed in Beijing."]
