"""Fit the yes/no verdict (retrieval/answer/verdict.py) on tuning parts, and print its figures.

    .venv/bin/python benchmarks/fit_verdict.py [--write]

Data, tuning parts only:
- BoolQ (shared/yesno): its 1,024 train rows and the dev rows whose sha256(title) % 2 != 0 (the reporting
  half, sha256(title) % 2 == 0, is the one training/train_reader.py reports on too). The sentence that
  decides a row is its passage's sentence holding most of the question's terms.
- CoQA CNN dev (shared/convqa/coqa-cnn-dev): the yes/no turns of the tuning part (`evaluate.part_of`, by
  story), each asked in its conversation over its story as `citeqa eval` asks it; the sentence that decides
  it is the one the answer quotes.
The two sources weigh the same in the fit (BoolQ has 70 times the rows, and CoQA's short, conversational
questions over news are what the product is asked). MIN_SURE: the lowest probability at which the verdicts
given on CoQA's tuning turns, each from a model fitted without its story (leave one story out), are right
at least 80 % of the time. `--write` puts WEIGHTS, BIAS and MIN_SURE into retrieval/parameters.json.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.settings import Settings, make_embedder  # noqa: E402
from retrieval.answer.verdict import WEIGHTS, evidence  # noqa: E402
from retrieval.articles.sentences import split_sentences  # noqa: E402
from fit_answer import coqa_tuning_turns  # noqa: E402  (benchmarks/ is on the path: this script's folder)
from retrieval.terms import terms  # noqa: E402

SHARED = ROOT.parent / "shared"
NAMES = list(WEIGHTS)
PRECISION = 0.8


def boolq_tuning() -> list[tuple[str, str, bool]]:
    """(question, deciding sentence, answer) for BoolQ's tuning rows."""
    rows = [json.loads(line) for line in (SHARED / "yesno" / "boolq_train_1k.jsonl").read_text().splitlines()]
    for line in (SHARED / "yesno" / "boolq_dev.jsonl").read_text().splitlines():
        row = json.loads(line)
        if int(hashlib.sha256(row["title"].encode("utf-8")).hexdigest(), 16) % 2 != 0:
            rows.append(row)
    out = []
    for row in rows:
        question = row["question"].strip().capitalize() + "?"
        asked = set(terms(question))
        sentences = [row["passage"][a:b] for a, b in split_sentences(row["passage"])] or [row["passage"]]
        best = max(sentences, key=lambda s: len(asked & set(terms(s))))
        out.append((question, best, bool(row["label"])))
    return out


def coqa_tuning(embedder) -> list[tuple[str, str, bool, str]]:
    """(question, quoted sentence, answer, story) for the tuning part's yes/no turns the product answers."""
    out = []
    for _, item, _, _, answer in coqa_tuning_turns(embedder):
        if item.kind != "yesno" or not answer.citations or not answer.details.get("verdict"):
            continue
        c = answer.citations[0]
        s = c.sentences[0]
        gold = item.answers[0].strip().lower().startswith("yes")
        out.append((answer.question, c.quote[s.start - c.start:s.end - c.start], gold, item.article))
    return out


def matrix(cases) -> np.ndarray:
    return np.array([[getattr(evidence(q, s), n) for n in NAMES] for q, s, *_ in cases])


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    boolq = boolq_tuning()
    coqa = coqa_tuning(make_embedder(Settings()))
    print(f"BoolQ tuning rows {len(boolq)} (yes {np.mean([y for *_, y in boolq]):.3f}); "
          f"CoQA tuning yes/no turns answered {len(coqa)} (yes {np.mean([y for _, _, y, _ in coqa]):.3f})")
    xb, yb = matrix(boolq), np.array([y for *_, y in boolq])
    xc, yc = matrix(coqa), np.array([y for _, _, y, _ in coqa])
    stories = np.array([story for *_, story in coqa])

    def fit(x_coqa, y_coqa):
        x, y = np.vstack([xb, x_coqa]), np.concatenate([yb, y_coqa])
        weight = np.concatenate([np.full(len(yb), 1.0 / len(yb)), np.full(len(y_coqa), 1.0 / max(1, len(y_coqa)))])
        return LogisticRegression(C=1.0, max_iter=2000).fit(x, y, sample_weight=weight * len(y))

    held_out = np.zeros(len(yc))  # each CoQA turn's probability from a model that never saw its story
    for story in sorted(set(stories)):
        fold = stories == story
        held_out[fold] = fit(xc[~fold], yc[~fold]).predict_proba(xc[fold])[:, 1]
    sure = np.maximum(held_out, 1 - held_out)
    right = (held_out >= 0.5) == yc
    print(f"CoQA tuning, out of fold: verdict right {right.mean():.3f} (always yes: {yc.mean():.3f})")
    chosen = 0.5
    for t in np.arange(0.5, 1.0, 0.025):
        given = sure >= t
        share = given.mean()
        precision = right[given].mean() if given.any() else float("nan")
        print(f"  MIN_SURE {t:.3f}: given {share:.3f}, right when given {precision:.3f}, right over all {(right & given).mean():.3f}")
    for t in np.arange(0.5, 1.0, 0.025):
        given = sure >= t
        if given.any() and right[given].mean() >= PRECISION:
            chosen = float(t)
            break
    else:
        chosen = 1.0
    model = fit(xc, yc)
    boolq_right = ((model.predict_proba(xb)[:, 1] >= 0.5) == yb).mean()
    values = {"WEIGHTS": {n: round(float(w), 3) for n, w in zip(NAMES, model.coef_[0])},
              "BIAS": round(float(model.intercept_[0]), 3), "MIN_SURE": round(chosen, 3)}
    figures = {"boolq_tuning_rows": len(yb), "boolq_tuning_right_fitted": round(float(boolq_right), 4),
               "coqa_tuning_turns": len(yc), "coqa_out_of_fold_right": round(float(right.mean()), 4),
               "coqa_out_of_fold_given": round(float((sure >= chosen).mean()), 4),
               "coqa_out_of_fold_right_when_given": round(float(right[sure >= chosen].mean()), 4) if (sure >= chosen).any() else None}
    print(json.dumps({"values": values, "figures": figures}, indent=1))
    if "--write" in sys.argv:
        path = ROOT / "retrieval" / "parameters.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["verdict"] = values
        data["manifest"]["figures"]["verdict"] = figures
        data["manifest"].setdefault("commands", {})["verdict"] = "benchmarks/fit_verdict.py --write"
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote verdict into {path}")


if __name__ == "__main__":
    main()
