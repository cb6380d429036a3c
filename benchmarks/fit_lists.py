"""Fit the set-question detector and the set answer's thresholds on tuning parts only; print their figures.

    .venv/bin/python benchmarks/fit_lists.py [--detector] [--write]

1. The detector (retrieval/question/sets.py): a logistic regression over a question's words, trained on the
   SQuAD questions of the reader's training articles, each labelled by whether its answer is a coordination
   (benchmarks/list_questions.py); its average precision is measured on the articles the reader never saw.
   Only with `--detector` (its solver's last digits vary from run to run); `--write` then saves it to
   retrieval/models/set_questions.json with its pedigree.
2. `lists.P_SET`, `LIST_MARGIN`, `CO_ARGUMENTS` and `P_COORDINATED` (retrieval/answer/lists.py), by a grid over
   the tuning parts of the set questions (benchmarks/data/lists/) and of the single-answer development sets
   (seeds, XQuAD): the best span item recall of the set questions among the options that leave the single
   answers' item F1 (a single answer is a set of one) no worse than never completing a set; between equal
   recalls, the best item F1 over every tuning question.
   `--write` puts them into retrieval/parameters.json.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from bot import runtime  # noqa: E402

runtime.prepare()

from bot.settings import Settings, make_embedder  # noqa: E402
from fit_answer import tuning_questions  # noqa: E402
from retrieval.answer.lists import complete, join  # noqa: E402
from retrieval.answer.spans import choose_readings  # noqa: E402
from retrieval.evaluate.lists import gold_members, item_f1, names  # noqa: E402
from retrieval.question.sets import MODEL, features  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
LISTS = ROOT / "benchmarks" / "data" / "lists"
SETS = [  # (corpus, questions files)
    (ROOT / "seeds", [LISTS / "seeds.jsonl", SHARED / "dev.jsonl"]),
    (SHARED / "xquad" / "corpus", [LISTS / "xquad.jsonl", SHARED / "xquad" / "dev.jsonl"]),
    (LISTS / "squad_corpus", [LISTS / "squad.jsonl"]),
]
P_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.01)
MIN_COUNT = 20
COORD_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 1.01)
MARGIN_GRID = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 100.0)


def fit_detector() -> dict:
    import numpy as np
    from list_questions import SQUAD, mine
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    _, labelled = mine()
    train = [r for r in labelled if not r["held_out"]]
    test = [r for r in labelled if r["held_out"]]
    vectors = DictVectorizer()
    x = vectors.fit_transform([dict.fromkeys(features(r["question"]), 1) for r in train])
    # Only features seen in at least MIN_COUNT questions: the rest are names and typos, and would make the
    # model file large and no better.
    common = np.asarray(x.sum(axis=0)).ravel() >= MIN_COUNT
    x = x[:, common]
    vectors.restrict(common)
    model = LogisticRegression(C=0.3, max_iter=3000).fit(x, [r["set"] for r in train])
    weights = {name: round(float(w), 3) for name, w in zip(vectors.get_feature_names_out(), model.coef_[0])
               if abs(w) >= 0.05}
    weights["bias"] = round(float(weights.get("bias", 0.0) + model.intercept_[0]), 3)
    p = model.predict_proba(vectors.transform([dict.fromkeys(features(r["question"]), 1) for r in test]))[:, 1]
    y = np.array([r["set"] for r in test])
    figures = {"average_precision": round(float(average_precision_score(y, p)), 3), "base_rate": round(float(y.mean()), 4),
               "questions": len(test), "set_questions": int(y.sum()), "trained_on": len(train)}
    print("detector, on the articles the reader never saw:", figures)
    return {"about": "retrieval/question/sets.py's logistic model; rebuild with: python benchmarks/fit_lists.py --write",
            "data": {"../shared/squad/train-v1.1.json": hashlib.sha256(SQUAD.read_bytes()).hexdigest()},
            "split": "trained on the reader's training articles (sha256(title) % 10 != 0); measured on the others",
            "figures": figures, "weights": weights}


@dataclass(frozen=True)
class Case:
    """What a tuning question gathered that the set answer reads (picklable, so a rerun of the grid is quick)."""

    item: object
    query: object
    readings: list


def tuning_cases(embedder) -> list[Case]:
    """Every tuning-part first turn with an answer, gathered; cached in .citeqa/ by the data's and code's hash."""
    key = hashlib.sha256(b"".join(f.read_bytes() for _, files in SETS for f in files)
                         + json.dumps({k: v for k, v in json.loads((ROOT / "retrieval/parameters.json").read_text())
                                       .items() if k not in ("lists", "manifest")}, sort_keys=True).encode()
                         + (ROOT / "retrieval/models/reader/manifest.json").read_bytes()).hexdigest()[:16]
    cache = ROOT / ".citeqa" / f"fit_lists-{key}.pkl"
    if cache.is_file() and "--regather" not in sys.argv:
        return pickle.loads(cache.read_bytes())
    cases = [Case(item, g.query, g.readings) for item, g in _gather(embedder)]
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(cases))
    return cases


def _gather(embedder):
    answered = lambda conversation: not conversation[0].abstain and bool(conversation[0].members or conversation[0].answer)
    for conversation, gathered, _ in tuning_questions(embedder, SETS, keep=answered):
        yield conversation[0], gathered


def span_recall(members: list[str], gold) -> float:
    """The share of the gold members the answer's span (the members joined) names."""
    span = join(members) if members else ""
    return sum(names(span, g) for g in gold) / len(gold)


def predicted(case: Case, **options) -> list[str]:
    chosen = choose_readings(case.readings)
    if not chosen:
        return []
    whole = complete(case.query, case.readings, chosen, **options)
    return [m.text for m in whole.members] if whole else [chosen[0].span]


def main() -> None:
    # The detector is refitted only when asked (--detector): the thresholds below are fitted to the one shipped.
    if "--detector" in sys.argv or not MODEL.is_file():
        detector = fit_detector()
        if "--write" in sys.argv:
            MODEL.write_text(json.dumps(detector, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            from retrieval.question import sets
            sets._weights.cache_clear()
    embedder = make_embedder(Settings(_env_file=None, index=ROOT / ".citeqa" / "index"))
    cases = tuning_cases(embedder)
    print(f"{len(cases)} tuning questions, {sum(bool(c.item.members) for c in cases)} of them set questions")
    results = []
    for p_set, margin, co, p_coord in itertools.product(P_GRID, MARGIN_GRID, (False, True), COORD_GRID):
        if p_coord > p_set:
            continue  # a question worded as a set is one already
        options = dict(p_set=p_set, margin=margin, co_arguments=co, p_coordinated=p_coord)
        sets_f1 = [item_f1(predicted(c, **options), gold_members(c.item)) for c in cases if c.item.members]
        single_f1 = [item_f1(predicted(c, **options), gold_members(c.item)) for c in cases if not c.item.members]
        recall = [span_recall(predicted(c, **options), c.item.members) for c in cases if c.item.members]
        results.append((round(sum(recall) / len(recall), 4), round(sum(sets_f1) / len(sets_f1), 4),
                        round(sum(single_f1) / len(single_f1), 4), options))
    # Single answers unchanged or better: the options whose single-answer F1 is at least that of never
    # completing a set (the last margin and P_SET complete none); among them the best span recall of the sets.
    floor = next(r[2] for r in results if r[3]["margin"] == MARGIN_GRID[-1] and r[3]["p_set"] > 1
                 and r[3]["p_coordinated"] > 1)
    results = [r for r in results if r[2] >= floor]
    # Ties on recall: the best item F1 over every tuning question, sets and single answers alike.
    n_sets, n_single = sum(bool(c.item.members) for c in cases), sum(not c.item.members for c in cases)
    results.sort(key=lambda r: (-r[0], -(n_sets * r[1] + n_single * r[2]), -r[3]["margin"], -r[3]["p_set"]))
    for r in results[:int(os.environ.get("SHOW", "10"))]:
        print(r)
    best = results[0]
    print("chosen:", best)
    if "--write" in sys.argv:
        path = ROOT / "retrieval" / "parameters.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["lists"] = {"P_SET": best[3]["p_set"], "LIST_MARGIN": best[3]["margin"], "CO_ARGUMENTS": best[3]["co_arguments"],
                         "P_COORDINATED": best[3]["p_coordinated"]}
        data["manifest"]["fitted"]["lists"] = (
            "benchmarks/fit_lists.py on the tuning parts (a grid: the best span item recall of the set questions among "
            f"the options whose single answers' item F1 is no worse than never completing a set, {floor}; "
            "ties by item F1 over all)")
        data["manifest"]["figures"]["lists"] = {"set_span_recall": best[0], "set_item_f1": best[1],
                                                "single_item_f1": best[2], "single_item_f1_never_completing": floor,
                                                "questions": len(cases)}
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote lists into {path}")


if __name__ == "__main__":
    main()
