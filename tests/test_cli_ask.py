"""`citeqa ask` as a process: sentence offsets in --json, and a clear exit without the reader's weights."""

from __future__ import annotations

import json
import shutil

import pytest

from retrieval.answer.reader import MODEL_DIR
from tests.conftest import citeqa_env, run_citeqa, write_corpus

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`


@pytest.fixture
def indexed(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    env = citeqa_env(tmp_path, corpus, tmp_path / "index")
    assert run_citeqa(["index"], env, tmp_path).returncode == 0
    return env, corpus


def test_ask_json_gives_each_citation_its_quoted_sentences(indexed, tmp_path):
    env, corpus = indexed
    asked = run_citeqa(["ask", "--json", "How much did the new harbour bridge cost?"], env, tmp_path)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and answer["span"] and answer["span"] in answer["text"]
    for citation in answer["citations"]:
        text = (corpus / f"{citation['article_id']}.txt").read_text(encoding="utf-8")
        for sentence in citation["sentences"]:
            quoted = " ".join(text[sentence["start"]:sentence["end"]].split())
            assert f"{quoted} [{citation['n']}]" in answer["text"]


@pytest.mark.parametrize("damage", ["missing", "truncated", "checksum"])
def test_ask_without_good_reader_weights_exits_with_one_line_naming_the_file(indexed, tmp_path, damage):
    env, _ = indexed
    reader = tmp_path / "reader"
    shutil.copytree(MODEL_DIR, reader)
    model = reader / "reader-int8.onnx"
    if damage == "missing":
        model.unlink()
    elif damage == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    else:
        manifest = json.loads((reader / "manifest.json").read_text())
        (reader / "manifest.json").write_text(json.dumps({**manifest, "sha256": "0" * 64}))
    asked = run_citeqa(["ask", "Who opened the new harbour bridge?"], {**env, "CITEQA_READER": str(reader)}, tmp_path)
    assert asked.returncode == 1 and not asked.stdout
    [line] = [line for line in asked.stderr.splitlines() if line.startswith("citeqa:")]
    assert str(model) in line and "train_reader.py" in line
    assert "Traceback" not in asked.stderr
