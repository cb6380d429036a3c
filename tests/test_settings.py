"""A wrong setting stops a command with a one-line reason that names it, and publishes nothing."""

import pytest

from retrieval.index.files import versions as store
from tests.conftest import citeqa_env, run_citeqa, write_corpus


@pytest.mark.parametrize("name, value", [("embed_backend", "cuda"), ("dense_index", "hnsw"), ("retriever", "magic")])
def test_a_wrong_setting_is_a_clear_error_and_nothing_is_published(tmp_path, name, value):
    corpus = write_corpus(tmp_path / "corpus")
    env = citeqa_env(tmp_path, corpus, tmp_path / "index", **{name: value})
    result = run_citeqa(["index"], env, tmp_path)
    assert result.returncode != 0
    assert f"CITEQA_{name.upper()}" in result.stderr and value in result.stderr
    assert "Traceback" not in result.stderr
    assert store.current_name(tmp_path / "index") is None
