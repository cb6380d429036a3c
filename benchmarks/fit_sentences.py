"""Fit the sentence weights and CONTEXT_SHARE on the tuning parts only, and print them with their tuning-part figures.

    .venv/bin/python benchmarks/fit_sentences.py [--write]

Fits `sentences.W_BIGRAM`, `W_RANK`, `W_TYPE`, `W_LONG` and `PRIOR_POWER` (how `score_sentences` in
retrieval/answer/candidates.py scores a candidate sentence, which decides what the reader reads and adds to
its ranking) and `query.CONTEXT_SHARE` (the share of their weight a follow-up's carried-over words keep in
the Query's `wanted`, which sentence scoring reads), by coordinate passes over a small grid each, on:

- the answerable first turns with a short answer of the seed and XQuAD development sets' tuning parts
  (the questions of fit_answer.py's reading grid), and
- the CoQA CNN tuning part's turns of kind "span", each asked in its conversation over its story
  (fit_answer.coqa_tuning_turns: the history is the product's own earlier answers, with the shipped values).

Each question is searched once (the search reads `search_wanted`, at full weight: checked, CONTEXT_SHARE
changes no hits), then, for every setting, its sentences are scored again and read as `ask` reads them
(`spans.read` with the shipped reading settings); the reader's output for each run of text is cached, so it
reads a run once whatever setting asks for it. The figures: the mean span F1 of the top reading (against
`answer`; CoQA's free-text `answers`) and the answer in the first sentence. A setting moves off the shipped
one only when it gains at least `MARGIN` questions' worth of span F1 without losing the answer in the first
sentence; CONTEXT_SHARE, which changes only the follow-ups, is judged on them alone.

`--write` puts the chosen values, the manifest's "fitted" text and the tuning figures into
retrieval/parameters.json (fit_answer.write); the reporting parts are never read here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from bot import runtime  # noqa: E402

runtime.prepare()  # one thread a model, models from disk: before numpy is imported (bot/runtime.py)

from fit_answer import coqa_tuning_turns, tuning_questions, write  # noqa: E402
from bot.settings import Settings, make_embedder  # noqa: E402
from retrieval.answer import candidates as sentence_module  # noqa: E402
from retrieval.answer.candidates import Sentence, candidate_sentences, score_sentences  # noqa: E402
from retrieval.answer.spans import read  # noqa: E402
from retrieval.engine import gather  # noqa: E402
from retrieval.evaluate.metrics import is_short, token_f1  # noqa: E402
from retrieval.question import query as query_module  # noqa: E402
from retrieval.question.query import Query, parse  # noqa: E402
from retrieval.search.ranking import diversify, search  # noqa: E402
from retrieval.types import Hit  # noqa: E402

import numpy as np  # noqa: E402

GRID = {
    "W_BIGRAM": (0.0, 0.075, 0.15, 0.3, 0.5),
    "W_RANK": (0.2, 0.4, 0.8, 1.2, 1.6),
    "W_TYPE": (0.0, 0.1, 0.2, 0.4),
    "W_LONG": (0.0, 0.002, 0.004, 0.008),
    "PRIOR_POWER": (1.0, 2.0, 4.0, 8.0),
}
CONTEXT_SHARES = (0.0, 0.1, 0.2, 0.35, 0.5, 1.0)
# A move must gain this many questions' worth of span F1 (summed over the questions it is judged on) and
# keep the answer in the first sentence: a smaller gain on the tuning part is as likely noise as a better weight.
MARGIN = 2.0


@dataclass
class Case:
    source: str  # "sets" (seeds, XQuAD), "coqa-first", "coqa-followup"
    truths: tuple[str, ...]  # what the span is scored against
    answer: tuple[str, ...]  # what the first sentence should hold
    hits: list[Hit]
    sentences: list[Sentence]  # the candidates, unscored
    queries: dict[float, Query]  # by CONTEXT_SHARE; a first turn's one query whatever it is


class CachedReader:
    """The engine's reader, each (question, run of text, its sentences) read once: the reader reads one
    window at a time (retrieval/answer/reader.py), so a run's spans do not depend on the runs read beside it."""

    def __init__(self, reader):
        self.reader, self.cache, self.reads = reader, {}, 0

    def read_sentences(self, question, contexts, sentences):
        keys = [(question, c, tuple(map(tuple, b))) for c, b in zip(contexts, sentences)]
        new = [k for k in dict.fromkeys(keys) if k not in self.cache]
        if new:
            found = self.reader.read_sentences(question, [k[1] for k in new], [list(k[2]) for k in new])
            self.cache.update(zip(new, found))
            self.reads += len(new)
        return [self.cache[k] for k in keys]


def gather_cases(embedder) -> tuple[list[Case], CachedReader]:
    cases, reader, differ = [], None, 0
    short = lambda c: not c[0].abstain and c[0].kind is None and bool(c[0].answer) and is_short(c[0].answer)  # noqa: E731
    for conversation, g, engine_reader in tuning_questions(embedder, keep=short):
        reader = reader or CachedReader(engine_reader)
        if g.hits:
            item = conversation[0]
            cases.append(Case("sets", item.answer, item.answer, g.hits,
                              candidate_sentences(g.hits, 3, g.index.sentences_of), {None: g.query}))
            differ += _top(read(reader, g.query.reader_question, g.hits, g.scored)) != _top(g.readings)
    changed = 0
    for k, item, history, engine, _ in coqa_tuning_turns(embedder):
        if item.kind != "span":
            continue
        g = gather(engine, item.question, history, article_ids=item.article_ids)
        if not g.hits:
            continue
        differ += _top(read(reader, g.query.reader_question, g.hits, g.scored)) != _top(g.readings)
        case = Case("coqa-followup" if k else "coqa-first", item.answers, item.answer, g.hits,
                    candidate_sentences(g.hits, 3, g.index.sentences_of), {None: g.query})
        if k:
            shipped = query_module.CONTEXT_SHARE
            for share in CONTEXT_SHARES:
                query_module.CONTEXT_SHARE = share
                q = parse(item.question, g.index.sparse, g.index.speller, history, item.article_ids)
                hits = diversify(search(g.index, engine.embedder, q, k=9, retriever=engine.retriever))[:3]
                changed += [h.passage.id for h in hits] != [h.passage.id for h in g.hits]
                case.queries[share] = q
            query_module.CONTEXT_SHARE = shipped
        cases.append(case)
    print(f"{differ} questions whose top reading through the cache differs from ask's (0 expected)")
    print(f"{changed} follow-up searches changed their hits with CONTEXT_SHARE (search reads search_wanted)")
    return cases, reader


def _top(readings) -> tuple | None:
    return (readings[0].start, readings[0].end) if readings else None


def measure(cases: list[Case], reader: CachedReader, weights: dict, share: float) -> dict:
    """The figures of one setting: mean span F1 and answer in the first sentence, overall and by source."""
    for name, value in weights.items():
        setattr(sentence_module, name, value)
    rows = {"f1": [], "first": [], "source": []}
    for case in cases:
        query = case.queries.get(share, case.queries[None])
        scored = score_sentences(case.sentences, query)
        readings = read(reader, query.reader_question, case.hits, scored)
        top = readings[0] if readings else None
        rows["f1"].append(max(token_f1(top.span, a) for a in case.truths) if top else 0.0)
        rows["first"].append(float(bool(top) and all(a.lower() in top.sentence.text.lower() for a in case.answer)))
        rows["source"].append(case.source)
    f1, first, source = np.array(rows["f1"]), np.array(rows["first"]), np.array(rows["source"])
    out = {"span_f1": float(f1.mean()), "answer_in_first_sentence": float(first.mean())}
    for name in ("sets", "coqa-first", "coqa-followup"):
        mine = source == name
        out[f"{name}:span_f1"] = float(f1[mine].mean()) if mine.any() else 0.0
        out[f"{name}:n"] = int(mine.sum())
    followups = source == "coqa-followup"
    out["followup_first"] = float(first[followups].mean()) if followups.any() else 0.0
    return out


def show(label: str, figures: dict) -> None:
    print(f"{label}: span F1 {figures['span_f1']:.4f}, answer in the first sentence {figures['answer_in_first_sentence']:.4f} "
          f"(seeds+XQuAD {figures['sets:span_f1']:.4f}, CoQA first turns {figures['coqa-first:span_f1']:.4f}, "
          f"follow-ups {figures['coqa-followup:span_f1']:.4f})", flush=True)


def better(new: dict, old: dict, questions: int, f1: str = "span_f1", first: str = "answer_in_first_sentence") -> bool:
    return new[f1] >= old[f1] + MARGIN / questions and new[first] >= old[first]


def main() -> None:
    embedder = make_embedder(Settings())
    cases, reader = gather_cases(embedder)
    print(f"{len(cases)} tuning questions: " + ", ".join(
        f"{n} {sum(c.source == n for c in cases)}" for n in ("sets", "coqa-first", "coqa-followup")))
    shipped = {name: getattr(sentence_module, name) for name in GRID}
    shipped_share = query_module.CONTEXT_SHARE
    baseline = measure(cases, reader, shipped, shipped_share)
    show(f"shipped {shipped} CONTEXT_SHARE {shipped_share}", baseline)

    current, current_figures = dict(shipped), baseline
    for sweep in (1, 2):
        moved = False
        for name, values in GRID.items():
            for value in values:
                if value == current[name]:
                    continue
                trial = {**current, name: value}
                figures = measure(cases, reader, trial, shipped_share)
                show(f"pass {sweep} {name} {value}", figures)
                if better(figures, current_figures, len(cases)):
                    current, current_figures, moved = trial, figures, True
            print(f"after {name}: {current}", flush=True)
        if not moved:
            break
    share, share_figures = shipped_share, measure(cases, reader, current, shipped_share)
    for value in CONTEXT_SHARES:
        figures = measure(cases, reader, current, value)
        show(f"CONTEXT_SHARE {value}", figures)
        follow = {"f1": figures["coqa-followup:span_f1"], "first": figures["followup_first"]}
        held = {"f1": share_figures["coqa-followup:span_f1"], "first": share_figures["followup_first"]}
        if value != share and better(follow, held, baseline["coqa-followup:n"], "f1", "first"):
            share, share_figures = value, figures
    print(f"the reader read {reader.reads} runs of text")
    show(f"chosen {current} CONTEXT_SHARE {share}", share_figures)
    for name, value in current.items():
        print(f"{name} = {value}")
    print(f"CONTEXT_SHARE = {share}")

    if "--write" in sys.argv:
        figures = {k: round(v, 4) if isinstance(v, float) else v for k, v in share_figures.items()}
        base = {k: round(v, 4) if isinstance(v, float) else v for k, v in baseline.items()}
        write({"sentences": {"values": current, "figures": {
                   "span_f1": figures["span_f1"], "answer_in_first_sentence": figures["answer_in_first_sentence"],
                   "shipped_span_f1": base["span_f1"], "shipped_answer_in_first_sentence": base["answer_in_first_sentence"],
                   "questions": len(cases)}},
               "query": {"values": {"CONTEXT_SHARE": share}, "figures": {
                   "followup_span_f1": figures["coqa-followup:span_f1"], "shipped_followup_span_f1": base["coqa-followup:span_f1"],
                   "followups": figures["coqa-followup:n"]}}})
        describe(current == shipped, share == shipped_share, figures, base)


def describe(sentences_kept: bool, share_kept: bool, figures: dict, base: dict) -> None:
    """The manifest's "fitted" text and command for the two groups."""
    path = ROOT / "retrieval" / "parameters.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    how = f"benchmarks/fit_sentences.py on the tuning parts (coordinate passes over a grid, a move kept only for {MARGIN:g} questions' worth of span F1 or more"
    data["manifest"]["fitted"]["sentences"] = f"{how}): " + (
        f"no setting beat the shipped one (span F1 {base['span_f1']}, answer in the first sentence "
        f"{base['answer_in_first_sentence']}), kept" if sentences_kept else
        f"span F1 {figures['span_f1']}, answer in the first sentence {figures['answer_in_first_sentence']} against the "
        f"shipped {base['span_f1']}, {base['answer_in_first_sentence']}")
    data["manifest"]["fitted"]["query"] = f"{how} on the CoQA follow-ups): " + (
        f"no share beat the shipped one (the follow-ups' span F1 {base['coqa-followup:span_f1']}), kept" if share_kept else
        f"the follow-ups' span F1 {figures['coqa-followup:span_f1']} against the shipped {base['coqa-followup:span_f1']}")
    data["manifest"].setdefault("commands", {}).update(sentences="benchmarks/fit_sentences.py --write",
                                                        query="benchmarks/fit_sentences.py --write")
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
