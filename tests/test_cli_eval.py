"""`citeqa eval` as a process: its figures as JSON, and one clear line with a non-zero exit for bad input."""

from __future__ import annotations

import json

import pytest

from tests.conftest import citeqa_env, run_citeqa, write_corpus

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

QUESTIONS = [
    {"id": "b1", "question": "Who opened the new harbour bridge?", "article": "harbour", "evidence": "Ines Duarte",
     "answer": ["Ines Duarte"]},
    {"id": "o1", "question": "How many tonnes of apples did the farmers pick?", "article": "orchard",
     "evidence": "12,000 tonnes", "answer": ["12,000"]},
    {"id": "n1", "question": "Who won the 2018 FIFA World Cup?", "abstain": True},
]


@pytest.fixture
def setup(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return citeqa_env(tmp_path, corpus, tmp_path / "index"), corpus, questions


def test_eval_prints_the_figures_as_json(setup, tmp_path):
    env, corpus, questions = setup
    run = run_citeqa(["eval", "--corpus", str(corpus), "--questions", str(questions), "--json"], env, tmp_path)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    assert figures["questions"] == 3 and 0 <= figures["hit@1"] <= 1 and "span_f1_all" in figures


@pytest.mark.parametrize("case, expected", [
    ("malformed", "line 2: not a question record"),
    ("missing", "cannot read questions file"),
    ("empty", "holds no questions"),
    ("retriever", "unknown retriever sparse"),
    ("part", "unknown part 'half'"),
    ("no-articles", "no usable article in"),
])
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(setup, tmp_path, case, expected):
    env, corpus, questions = setup
    args = ["eval", "--corpus", str(corpus), "--questions", str(questions)]
    if case == "malformed":
        questions.write_text(json.dumps(QUESTIONS[0]) + "\n{\"question\": \n", encoding="utf-8")
    elif case == "missing":
        args[4] = str(tmp_path / "nowhere.jsonl")
    elif case == "empty":
        questions.write_text("\n\n", encoding="utf-8")
    elif case == "retriever":
        args += ["--retriever", "hybrid,sparse"]
    elif case == "part":
        args += ["--part", "half"]
    else:
        empty = tmp_path / "empty-corpus"
        empty.mkdir()
        args[2] = str(empty)
    run = run_citeqa(args, env, tmp_path)
    assert run.returncode == 1 and not run.stdout
    errors = [line for line in run.stderr.splitlines() if line.startswith("citeqa:")]
    assert len(errors) == 1 and expected in errors[0], run.stderr
    assert "Traceback" not in run.stderr
