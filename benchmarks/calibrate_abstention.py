"""Fit the abstention model of retrieval/confidence.py on the development sets and print its weights.

    .venv/bin/python benchmarks/calibrate_abstention.py

Answerable questions: the seed and XQuAD dev sets. Unanswerable ones: their `abstain` questions
plus tests/data/unanswerable_*.jsonl, written for these two corpora (off-topic and near-topic).
Prints the fitted weights, then abstain_rate and false_abstain at several thresholds. Needs
scikit-learn (installed with sentence-transformers). Copy the weights into confidence.py by hand:
a change to them should be a reviewed commit, with `citeqa eval` figures in its message.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.answer import candidate_sentences, query_weights, score_sentences  # noqa: E402
from retrieval.confidence import WEIGHTS, signals  # noqa: E402
from retrieval.embed import SentenceTransformerEmbedder  # noqa: E402
from retrieval.engine import Engine  # noqa: E402
from retrieval.evaluate import load_questions  # noqa: E402
from retrieval.question import answer_type  # noqa: E402
from retrieval.refresh import build  # noqa: E402
from retrieval.search import diversify, search  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
SETS = [
    (ROOT / "seeds", [SHARED / "dev.jsonl", ROOT / "tests/data/unanswerable_seeds.jsonl"]),
    (SHARED / "xquad/corpus", [SHARED / "xquad/dev.jsonl", ROOT / "tests/data/unanswerable_xquad.jsonl"]),
]


def rows(embedder):
    for corpus, files in SETS:
        with tempfile.TemporaryDirectory() as scratch:
            build(corpus, Path(scratch), embedder)
            engine = Engine.open(Path(scratch), embedder)
            index = engine.index
            for path in files:
                for conversation in load_questions(path):
                    item = conversation[0]
                    hits = diversify(search(index, embedder, item.question, k=9))[:3]
                    wanted = query_weights(item.question, index.sparse.weight)
                    scored = score_sentences(candidate_sentences(hits), item.question, wanted, answer_type(item.question))
                    s = signals(item.question, wanted, hits, scored, index.sparse)
                    yield [getattr(s, name) for name in WEIGHTS], item.abstain


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    data = list(rows(SentenceTransformerEmbedder()))
    x = np.array([features for features, _ in data])
    y = np.array([unanswerable for _, unanswerable in data])
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(x, y)
    print(f"{len(y)} questions, {y.sum()} unanswerable")
    print("WEIGHTS =", {name: round(float(w), 2) for name, w in zip(WEIGHTS, model.coef_[0])})
    print("BIAS =", round(float(model.intercept_[0]), 2))
    doubt = model.predict_proba(x)[:, 1]
    for threshold in (0.6, 0.7, 0.8, 0.85, 0.9):
        abstains = doubt > threshold
        print(f"MAX_DOUBT {threshold}: abstain_rate {abstains[y].mean():.3f}, false_abstain {abstains[~y].mean():.4f}")


if __name__ == "__main__":
    main()
