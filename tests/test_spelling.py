"""Misspelt names put right against the corpus; accents folded; names that stay unknown stay unknown."""

from retrieval.engine import Engine, ask
from retrieval.index.files.refresh import build
from retrieval.question.spelling import Speller, names_in
from retrieval.terms import terms
from tests.conftest import write_corpus

TEXTS = ["The poet Percy Shelley wrote about protest. Parts of the city were closed. He toured the Three Parks.",
         "Gegeen was assassinated in a coup. The emperor Gegeen ruled briefly; Thomas de Maizière spoke."]


def speller() -> Speller:
    frequency = {t: 1.0 for text in TEXTS for t in terms(text)}
    return Speller(frequency, names_in(TEXTS))


def test_names_are_the_words_written_capitalised_inside_a_sentence():
    assert {"percy", "shelley", "gegeen", "thomas", "maiziere"} <= names_in(TEXTS)
    assert "parts" not in names_in(TEXTS)  # capitalised only where a sentence starts


def test_a_misspelt_name_one_edit_away_is_put_right():
    assert speller().correct("What did Percy Shelly write?") == "What did Percy Shelley write?"
    assert speller().correct("When was Geegen the emperor?") == "When was Gegeen the emperor?"  # two letters swapped


def test_unknown_names_and_ordinary_words_are_left_alone():
    s = speller()
    assert s.correct("How many people live in Paris?") == "How many people live in Paris?"  # not "parts"
    # "Parks" is written capitalised (in "Three Parks") and one edit from "Paris": a word English knows,
    # alone, is taken as spelled right.
    assert s.correct("Who is the mayor of Paris?") == "Who is the mayor of Paris?"
    assert s.correct("What is the tallest mountain?") == "What is the tallest mountain?"
    assert s.correct("Who is Bob?") == "Who is Bob?"  # too short to guess
    assert s.correct("") == ""
    assert s.correct("¿Qué? 北京 1234 !!!") == "¿Qué? 北京 1234 !!!"


def test_a_known_word_is_corrected_beside_another_word_of_its_name():
    s = speller()
    assert "shelly" in s.known  # a name general English knows: corrected only because "Percy" is the corpus's
    assert s.correct("Did Percy Shelly write?") == "Did Percy Shelley write?"
    assert s.correct("Did Shelly write?") == "Did Shelly write?"
    assert s.correct("Did Percy, Shelly write?") == "Did Percy, Shelly write?"  # not one name


def test_accents_fold_on_both_sides():
    assert terms("Maiziere") == terms("Maizière")
    assert terms("Zürich café") == terms("Zurich cafe")


def test_ask_searches_the_corrected_question_and_keeps_the_asked_one(tmp_path, hashing):
    corpus = write_corpus(tmp_path / "corpus", {"poets.txt": "Poets\n" + TEXTS[0] + " Shelley was inspired by the massacre."})
    build(corpus, tmp_path / "index", hashing)
    engine = Engine.open(tmp_path / "index", hashing)
    answer = ask(engine, "What did Percy Shelly write about?")
    assert answer.question == "What did Percy Shelly write about?"
    assert answer.details["spelled_as"] == "What did Percy Shelley write about?"
