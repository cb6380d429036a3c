"""The fitted parameters are data: read from retrieval/parameters.json, refused whole when a name is missing."""

import json
import math

import pytest

from retrieval import parameters
from retrieval.answer import abstention, spans
from retrieval.errors import ParametersInvalid
from retrieval.search import ranking


def test_the_modules_use_the_shipped_file():
    shipped = json.loads(parameters.PATH.read_text(encoding="utf-8"))
    assert abstention.WEIGHTS == shipped["abstention"]["WEIGHTS"] and abstention.MAX_DOUBT == shipped["abstention"]["MAX_DOUBT"]
    assert spans.READ_SENTENCES == shipped["reading"]["READ_SENTENCES"] and ranking.W_BM25 == shipped["search"]["W_BM25"]
    # The manifest says where the fitted figures come from: the data's hashes and the tuning part.
    assert shipped["manifest"]["part"].startswith("tuning") and shipped["manifest"]["data"]


def test_a_file_without_a_parameter_is_refused_with_its_name(tmp_path):
    shipped = json.loads(parameters.PATH.read_text(encoding="utf-8"))
    del shipped["abstention"]["MAX_DOUBT"]
    path = tmp_path / "parameters.json"
    path.write_text(json.dumps(shipped), encoding="utf-8")
    with pytest.raises(ParametersInvalid, match="abstention.MAX_DOUBT"):
        parameters.load(path)


@pytest.mark.parametrize("text", ["", "{not json", "[]"])
def test_a_broken_file_is_refused_with_the_rebuild_command(tmp_path, text):
    path = tmp_path / "parameters.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParametersInvalid, match="fit_answer.py --write"):
        parameters.load(path)


def test_a_question_in_context_is_judged_by_its_own_model():
    shipped = json.loads(parameters.PATH.read_text(encoding="utf-8"))["abstention"]
    values = dict(cosine=0.3, sentence_coverage=0.2, passage_coverage=0.3, entity_coverage=1.0, unseen_entity=0.0,
                  reader_margin=2.0, reader_probability=0.6)

    def doubt(model: dict) -> float:
        z = model["BIAS"] + sum(w * values[name] for name, w in model["WEIGHTS"].items())
        return 1.0 / (1.0 + math.exp(-z))

    alone, in_context = abstention.Signals(**values), abstention.Signals(**values, in_context=True)
    assert alone.doubt == pytest.approx(doubt(shipped)) and in_context.doubt == pytest.approx(doubt(shipped["IN_CONTEXT"]))
    assert in_context.answered == (in_context.doubt <= shipped["IN_CONTEXT"]["MAX_DOUBT"])
    assert alone.answered == (alone.doubt <= shipped["MAX_DOUBT"])
    assert in_context.as_dict()["in_context"] is True


@pytest.mark.parametrize("article_ids, history, in_context", [
    (None, False, False),  # an open question
    (["story"], False, True),  # over the one article the asker chose, as CoQA asks
    (["one", "two"], False, False),  # over several (a date range, a chosen few): judged as open
    (None, True, True),  # a follow-up leaning on the conversation
])
def test_which_model_judges_a_question(article_ids, history, in_context):
    from retrieval.question.query import parse
    from retrieval.types import Turn

    class Weights:
        def weight(self, term):
            return 1.0

    class Index:
        sparse = frozenset()

    earlier = [Turn("Who attended the meeting?", "Wang Binying attended. [1]", ("000",), "Who attended the meeting?",
                    "Wang Binying")] if history else []
    query = parse("What did she say?" if history else "Who opened the office?", Weights(), history=earlier,
                  article_ids=article_ids)
    assert abstention.signals(query, [], [], Index()).in_context is in_context
