"""The fitted parameters are data: read from retrieval/parameters.json, refused whole when a name is missing."""

import json

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
