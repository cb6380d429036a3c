"""The near-topic questions made by swapping a name (benchmarks/swapped_names.py): reproducible, and what
they claim to be: the source question with one of its article's names replaced, on the source's side of
the tuning / reporting split, the replacing name absent from the corpus or from the source's topic."""

import importlib.util
import json

import pytest

from retrieval.articles.folder import read_folder
from retrieval.evaluate.run import load_questions, part_of
from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("swapped_names", ROOT / "benchmarks" / "swapped_names.py")
swapped_names = importlib.util.module_from_spec(spec)
spec.loader.exec_module(swapped_names)


FILES = [(corpus, questions, swapped_names.output(kind, name), elsewhere)
         for corpus, questions, name, elsewhere in swapped_names.SETS for kind in swapped_names.KINDS[:1 + elsewhere]]


@pytest.mark.parametrize("corpus, questions, name, elsewhere", swapped_names.SETS, ids=["seeds", "xquad"])
def test_the_committed_files_are_what_the_script_makes(corpus, questions, name, elsewhere):
    made = swapped_names.swapped(corpus, questions, elsewhere)
    committed = [json.loads(line) for kind in swapped_names.KINDS[:1 + elsewhere]
                 for line in swapped_names.output(kind, name).read_text(encoding="utf-8").splitlines()]
    assert sorted(made, key=lambda r: r["id"]) == sorted(committed, key=lambda r: r["id"])
    assert len(made) >= (300 if elsewhere else 5)


@pytest.mark.parametrize("corpus, questions, output, elsewhere", FILES, ids=[f.stem for _, _, f, _ in FILES])
def test_each_question_is_its_source_with_one_name_replaced(corpus, questions, output, elsewhere):
    sources = {c[0].id: c for c in load_questions(questions)}
    articles, _ = read_folder(corpus)
    corpus_words = set().union(*(swapped_names.words(f"{a.title}\n{a.text}") for a in articles))
    for conversation in load_questions(output):
        item = conversation[0]
        record = json.loads(next(line for line in output.read_text(encoding="utf-8").splitlines()
                                 if json.loads(line)["id"] == item.id))
        source = sources[item.id.rsplit("-", 1)[0]]
        swap = record["swapped"]
        assert item.abstain
        asked, at = source[0].question, swap["at"]
        assert item.question == asked[:at] + swap["to"] + asked[at + len(swap["from"]):]
        assert part_of(conversation) == part_of(source)  # never fitted on when its source reports
        if swap["kind"] == "unseen":
            assert not swapped_names.words(swap["to"]) & corpus_words


def test_runs_of_names_skip_the_question_word_and_stop_words():
    runs = [m.group(0) for m in swapped_names.name_runs("Which NASA location came around to the LOR?")]
    assert runs == ["NASA", "LOR"]
    assert [m.group(0) for m in swapped_names.name_runs("Who gave the plaque to Guangzhou's Vice Mayor?")] == \
        ["Guangzhou", "Vice Mayor"]
    assert swapped_names.name_runs("What is it?") == []
    assert swapped_names.name_runs("") == []


def test_a_question_without_a_name_of_its_article_is_not_swapped(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a1.txt").write_text("Rivers\nThe Rhine flows north. Bridges cross it.\n", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    lines = [{"id": "q1", "question": "Which way does the river flow?", "article": "a1", "evidence": "north"},
             {"id": "q2", "question": "Which way does the Rhine flow?", "article": "a1", "evidence": "north"},
             {"id": "q3", "question": "What is Paris?", "abstain": True}]
    questions.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    made = swapped_names.swapped(corpus, questions, elsewhere=True)
    assert [m["id"] for m in made] == ["q2-unseen"]  # one topic only: nowhere else to take a name from
    assert "Rhine" not in made[0]["question"]
    out = tmp_path / "swapped.jsonl"
    out.write_text("".join(json.dumps(m) + "\n" for m in made), encoding="utf-8")
    assert load_questions(out)[0][0].abstain  # the loader reads what the script writes
