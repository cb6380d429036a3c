"""Which sentences answer, and what the citations say of them: pure functions over made-up passages and readings."""

from retrieval.answer.candidates import Sentence, candidate_sentences, score_sentences
from retrieval.answer.compose import compose
from retrieval.question.query import parse
from retrieval.answer.spans import Reading, choose_readings
from retrieval.types import Hit, Passage

MEETING = ("Yin Hejun met Wang Binying at the Beijing WIPO meeting on May 16. "
           "Chen Hongbing and Wang Hong also joined the meeting.")


class Uniform:
    """Every term weighs the same."""

    def weight(self, term: str) -> float:
        return 1.0


def hit(article: str, text: str, score: float = 1.0, n: int = 0, start: int = 0) -> Hit:
    return Hit(Passage(f"{article}#{n}", n, article, article.title(), start, start + len(text), text), score=score,
               dense=score)


def readings(hits: list[Hit], span_scores: list[float], null: float = 0.0) -> list[Reading]:
    sentences = candidate_sentences(hits)
    out = [Reading(s, s.start, s.start + 3, score, null, 0.5, score) for s, score in zip(sentences, span_scores)]
    return sorted(out, key=lambda r: -r.score)


def test_a_second_sentence_of_the_same_article_when_the_reader_finds_an_answer_in_it_too():
    chosen = choose_readings(readings([hit("meeting", MEETING)], [9.0, 8.0]))
    assert [r.sentence.text[:3] for r in chosen] == ["Yin", "Che"]


def test_no_second_sentence_when_the_reader_finds_no_answer_in_it_or_a_much_weaker_one():
    assert len(choose_readings(readings([hit("meeting", MEETING)], [9.0, 8.0], null=8.5))) == 1
    assert len(choose_readings(readings([hit("meeting", MEETING)], [9.0, 4.0]))) == 1


def test_the_second_sentence_never_comes_from_another_article():
    hits = [hit("meeting", "Yin Hejun met Wang Binying at the Beijing WIPO meeting on May 16."),
            hit("other", "Four vice mayors attended a different meeting.", 0.9)]
    chosen = choose_readings(readings(hits, [9.0, 8.9]))
    assert [r.sentence.hit.passage.article_id for r in chosen] == ["meeting"]


def test_citations_list_the_offsets_of_exactly_the_quoted_sentences():
    text = MEETING + " The weather was fine."
    passage_hit = hit("meeting", text, start=100)
    article = "x" * 100 + text
    sentences = candidate_sentences([passage_hit])
    answer = compose("q", [sentences[1], sentences[0]])
    (citation,) = answer.citations
    assert [article[s.start:s.end] for s in citation.sentences] == [sentences[1].text, sentences[0].text]
    assert answer.text == f"{sentences[1].text} [1] {sentences[0].text} [1]"
    assert article[citation.start:citation.end] == citation.quote


def test_sentences_are_scored_by_the_question_terms_they_hold():
    hits = [hit("a", "The plan was signed in Beijing. Unrelated weather was sunny and warm all week long.")]
    scored = score_sentences(candidate_sentences(hits), parse("Where was the plan signed?", Uniform()))
    assert scored[0].text == "The plan was signed in Beijing." and scored[0].score > scored[1].score
    assert isinstance(scored[0], Sentence)
