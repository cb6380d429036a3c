"""Learned term selection over a conversation's history, tried against the shipped follow-up rule (issue 34).

    .venv/bin/python benchmarks/history_terms.py [--coqa]

A follow-up ("When did they disband?") drops words its earlier turns said ("Zappa", "Mothers of
Invention"). Every term of the earlier questions and answers is a candidate; a logistic model over where
and how it was said (in the last question, an older one, the first, an answer; how often; as a name; how
rare it is beside the other candidates) and over the question itself (does it point back, how many words of
its own) gives each the probability that a person making the question stand alone would write it in; those
at or above a fitted bar are the follow-up's context. This is term classification over the history
(Voskarides et al. 2020, "Query resolution for conversational search with limited supervision") with a
linear model instead of BERT.

CANARD (shared/convqa/canard-dev.jsonl): 490 QuAC dialogs with, for every question, the stand-alone
question a person wrote. A term of the history is *needed* when the rewrite holds it and the question does
not. The dialogs are split by Wikipedia title (sha256(title) % 2 == 0 is the reporting part, as
retrieval.evaluate.run.part_of splits articles). On the tuning part the model is fitted and MIN_PROBABILITY
is the bar with the best micro F1 out of fold (five folds by title). Rarity reads each part's own IDF (every
exchange a document), as the product would read its index's. Printed for both parts: precision, recall and
F1 of the needed terms (micro, over follow-ups), the share of follow-ups given every needed term, and the
same for the shipped rule (retrieval.question.followups.resolve: the last turn's words when the question
points back).

`--coqa` then asks the CoQA CNN tuning part's conversations (story given, and searched openly) with the
follow-ups resolved by the rule and by the learned selection (earlier answers read as the product's cited
sentences), through the product's `evaluate`. The decision and its figures are in
docs/decisions/0017-conversation-turns.md; benchmarks/results/history_terms.json keeps the last run.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import numpy as np  # noqa: E402

from retrieval.evaluate.lists import CITATION_MARK  # noqa: E402
from retrieval.evaluate.run import part_of_key  # noqa: E402
from retrieval.index.bm25 import idf  # noqa: E402
from retrieval.question.followups import is_followup, resolve  # noqa: E402
from retrieval.terms import terms  # noqa: E402
from retrieval.types import Turn  # noqa: E402

CANARD = ROOT.parent / "shared" / "convqa" / "canard-dev.jsonl"
COQA = ROOT.parent / "shared" / "convqa" / "coqa-cnn-dev"
BARS = tuple(round(b, 3) for b in np.arange(0.1, 0.9, 0.025))

# A name said mid-sentence: a capitalised word after another word (sentence openings are capitalised anyway).
_NAME = re.compile(r"(?<=[\w,;:'\")] )[A-Z][\w'’.-]*")
# Only this many earlier turns are read: CANARD's rewrites draw on the last few, and a long chat stays cheap.
TURNS_READ = 6

FEATURES = (
    "in_last_question", "in_question_before", "in_older_question", "in_first_question",
    "in_last_answer", "in_older_answer", "turns_holding", "said_as_name", "rarity",
    "points_back", "own_terms",
    "points_back_x_last_question", "points_back_x_last_answer", "points_back_x_first_question",
    "points_back_x_name",
)


class Weights(Protocol):
    def weight(self, term: str) -> float: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    term: str
    word: str  # the word as it was said (most recently), for a readable context
    features: tuple[float, ...]


def candidates(question: str, history: Sequence[Turn], weights: Weights, points_back: bool) -> list[Candidate]:
    """Every term of the last TURNS_READ exchanges (their questions and answers, as said: no citation marks)
    that the question does not hold, with its features.
    `points_back`: the question has a word that points at something said before (followups.is_followup)."""
    history = list(history)[-TURNS_READ:]
    if not history:
        return []
    own = set(terms(question))
    asked = [set(terms(h.question)) for h in history]
    answered = [set(terms(h.answer)) for h in history]
    names = set()
    for h in history:
        for said in (h.question, h.answer):
            names.update(t for m in _NAME.findall(said) for t in terms(m))
    words: dict[str, str] = {}
    for h in history:  # the newest surface form of each term wins
        for said in (h.question, h.answer):
            for word in re.findall(r"[^\W_]+(?:[.'’][^\W_]+)*", said):
                for t in terms(word):
                    words[t] = word
    pool = [t for t in dict.fromkeys(t for turn in reversed(list(zip(asked, answered))) for part in turn for t in part)
            if t not in own]
    if not pool:
        return []
    top = max(weights.weight(t) for t in pool) or 1.0
    back = float(points_back)
    own_share = min(len(own), 6) / 6
    out = []
    for t in pool:
        last_q, before_q = float(t in asked[-1]), float(len(asked) > 1 and t in asked[-2])
        older_q = float(any(t in a for a in asked[:-2]))
        first_q = float(t in asked[0])
        last_a, older_a = float(t in answered[-1]), float(any(t in a for a in answered[:-1]))
        holding = math.log1p(sum(t in a or t in b for a, b in zip(asked, answered)))
        name = float(t in names)
        rarity = weights.weight(t) / top
        out.append(Candidate(t, words.get(t, t), (
            last_q, before_q, older_q, first_q, last_a, older_a, holding, name, rarity, back, own_share,
            back * last_q, back * last_a, back * first_q, back * name)))
    return out


def probabilities(found: Sequence[Candidate], model: Mapping) -> list[float]:
    """Each candidate's probability of belonging to the stand-alone question, by the fitted model."""
    weights = [model["WEIGHTS"][name] for name in FEATURES]
    return [1.0 / (1.0 + math.exp(-(model["BIAS"] + sum(w * x for w, x in zip(weights, c.features)))))
            for c in found]


def select(question: str, history: Sequence[Turn], weights: Weights, points_back: bool, model: Mapping) -> list[str]:
    """The words of the conversation the question needs, likeliest first (empty when it stands alone)."""
    found = candidates(question, history, weights, points_back)
    scored = sorted(zip(probabilities(found, model), found), key=lambda x: -x[0])
    return [c.word for p, c in scored if p >= model["MIN_PROBABILITY"]]


class PartWeights:
    """BM25's IDF over one part's exchanges (question and answer, one document each)."""

    def __init__(self, dialogs: list[dict]):
        docs = [set(terms(f"{t['question']} {t.get('answer') or ''}")) for d in dialogs for t in d["turns"]]
        self.size, self.frequency = len(docs), Counter(t for d in docs for t in d)

    def weight(self, term: str) -> float:
        return float(idf(self.size, self.frequency.get(term, 0)))


def rows(dialogs: list[dict]):
    """(title, candidates, needed terms, the rule's terms) for every question after a dialog's first; the history
    holds the rule's chained search queries, as the product's would."""
    weights = PartWeights(dialogs)
    out = []
    for d in dialogs:
        turns = []
        for t in d["turns"]:
            question = t["question"]
            resolved = resolve(question, turns)
            if turns:
                needed = set(terms(t["rewrite"])) - set(terms(question))
                rule = set(terms(resolved.context)) - set(terms(question))
                out.append((d["title"], candidates(question, turns, weights, is_followup(question, turns)), needed, rule))
            turns.append(Turn(question=question, answer=t.get("answer") or "", search_query=resolved.search_query))
    return out


def scores(picked: list[set], needed: list[set]) -> dict:
    hit = sum(len(p & n) for p, n in zip(picked, needed))
    chosen, wanted = sum(map(len, picked)), sum(map(len, needed))
    precision, recall = hit / max(1, chosen), hit / max(1, wanted)
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / max(1e-9, precision + recall), 4),
            "all_needed_given": round(float(np.mean([n <= p for p, n in zip(picked, needed) if n])), 4),
            "nothing_added_when_none_needed": round(float(np.mean([not p for p, n in zip(picked, needed) if not n])), 4)}


def picked_by(data, model) -> list[set]:
    return [{c.term for c, p in zip(found, probabilities(found, model)) if p >= model["MIN_PROBABILITY"]}
            for _, found, _, _ in data]


def fit(data) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([c.features for _, found, _, _ in data for c in found])
    y = np.array([c.term in needed for _, found, needed, _ in data for c in found])
    model = LogisticRegression(C=1.0, max_iter=5000).fit(x, y)
    return model.coef_[0], float(model.intercept_[0])


def as_model(coef, bias, bar) -> dict:
    return {"WEIGHTS": {n: round(float(w), 4) for n, w in zip(FEATURES, coef)}, "BIAS": round(bias, 4),
            "MIN_PROBABILITY": bar}


def resolve_learned(model, weights_of):
    """followups.resolve with the learned selection in place of the rule, for the comparison on CoQA."""
    from retrieval.question.followups import CONTEXT_WORDS, Resolved

    def resolve_with(question: str, history: Sequence[Turn]):
        if not history:
            return Resolved(question)
        said = [Turn(t.question, CITATION_MARK.sub("", t.answer) if t.article_ids else "") for t in history]
        words = select(question, said, weights_of(), is_followup(question, history), model)
        if not words:
            return Resolved(question)
        return Resolved(question, context=" ".join(words[:CONTEXT_WORDS]), prefer=history[-1].article_ids[:1],
                        followup=True)
    return resolve_with


def coqa(model) -> dict:
    """The CoQA CNN tuning part asked with the rule and with the learned selection, story given and openly."""
    from bot import runtime

    runtime.prepare()
    from bot.settings import Settings, make_embedder
    from retrieval.engine import Engine
    from retrieval.evaluate.run import evaluate, load_questions, select_part
    from retrieval.index.files.refresh import build
    from retrieval.question import query as query_module

    keys = ("coqa_f1", "followup_coqa_f1", "coqa_f1/span", "coqa_f1/yesno", "followup_answer_hit", "followup_article@1",
            "refused")
    embedder, shipped, out = make_embedder(Settings()), query_module.resolve, {}
    with tempfile.TemporaryDirectory() as scratch:
        build(COQA / "corpus", Path(scratch), embedder)
        engine = Engine.open(Path(scratch), embedder)
        conversations = select_part(load_questions(COQA / "conversations.jsonl"), "tuning")
        learned = resolve_learned(model, lambda: engine.index.sparse)
        for setting, restrict in (("story given", True), ("searched openly", False)):
            for name, resolver in (("rule", shipped), ("learned", learned)):
                query_module.resolve = resolver
                try:
                    figures = evaluate(engine, conversations, restrict=restrict).figures
                finally:
                    query_module.resolve = shipped
                out[f"{setting}/{name}"] = {k: figures[k] for k in keys}
                print(f"CoQA tuning, {setting}, {name}: {out[f'{setting}/{name}']}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coqa", action="store_true", help="also compare the two on the CoQA CNN tuning part")
    args = parser.parse_args()
    dialogs = [json.loads(line) for line in CANARD.read_text(encoding="utf-8").splitlines() if line.strip()]
    tuning = rows([d for d in dialogs if part_of_key(d["title"]) == "tuning"])
    reporting = rows([d for d in dialogs if part_of_key(d["title"]) == "reporting"])
    print(f"follow-ups: tuning {len(tuning)}, reporting {len(reporting)}; needing a history term: "
          f"tuning {np.mean([bool(n) for *_, n, _ in tuning]):.3f}")
    reachable = [{c.term for c in found} & needed for _, found, needed, _ in tuning]
    held_at_all = sum(map(len, reachable)) / max(1, sum(len(n) for *_, n, _ in tuning))
    print(f"needed terms the history holds at all (tuning): {held_at_all:.3f}")

    # Out of fold by title: each follow-up's probabilities from a model that never saw its article.
    titles = sorted({t for t, *_ in tuning})
    fold_of = {t: k % 5 for k, t in enumerate(titles)}
    held = [None] * len(tuning)
    for k in range(5):
        coef, bias = fit([r for r in tuning if fold_of[r[0]] != k])
        for i, r in enumerate(tuning):
            if fold_of[r[0]] == k:
                held[i] = probabilities(r[1], as_model(coef, bias, 0.0))
    needed = [n for *_, n, _ in tuning]
    best = None
    for bar in BARS:
        picked = [{c.term for c, p in zip(r[1], ps) if p >= bar} for r, ps in zip(tuning, held)]
        s = scores(picked, needed)
        if best is None or s["f1"] > best[1]["f1"]:
            best = (bar, s)
    print(f"MIN_PROBABILITY {best[0]}: out of fold on the tuning part {best[1]}")
    coef, bias = fit(tuning)
    model = as_model(coef, bias, best[0])
    print(f"model: {json.dumps(model)}")
    figures = {"needed_terms_the_history_holds": round(held_at_all, 4)}
    for name, data in (("tuning", tuning), ("reporting", reporting)):
        want = [n for *_, n, _ in data]
        figures[name] = {"learned": scores(picked_by(data, model), want), "rule": scores([r for *_, r in data], want),
                         "follow_ups": len(data)}
        print(f"CANARD {name}: learned {figures[name]['learned']}\n{' ' * (len(name) + 7)}  rule    "
              f"{figures[name]['rule']}")
    if args.coqa:
        figures["coqa_tuning"] = coqa(model)
    out = ROOT / "benchmarks" / "results" / "history_terms.json"
    command = "benchmarks/history_terms.py" + (" --coqa" if args.coqa else "")
    out.write_text(json.dumps({"command": command, "model": model, **figures}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
