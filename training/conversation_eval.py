"""Held-out figures for a reader with history and a kind head: synthetic SQuAD turns, BoolQ, CoQA CNN dev.

Every figure is on a reporting part that no training saw: SQuAD's reporting articles (sha256(title) % 10 == 0,
as for the reader's other figures), BoolQ dev's reporting titles (sha256(title) % 2 == 0), and CoQA CNN dev's
reporting stories (sha256(story id) % 2 == 0; nothing is fitted on CoQA, the split keeps the figures comparable
with whatever is fitted on its tuning part later). Windows are read one a run, as the product reads them.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np

from retrieval.answer.reader import decode, feed, make_windows
from retrieval.articles.sentences import split_sentences
from retrieval.evaluate.metrics import token_f1
from retrieval.terms import tokens

from training.conversations import conversations
from training.history_format import format_question
from training.kind_head import KINDS

COQA = Path(__file__).resolve().parent.parent.parent / "shared" / "convqa" / "coqa-cnn-dev"


def reporting(key: str, modulus: int) -> bool:
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % modulus == 0


def read(session, tokenizer, question: str, context: str, settings: dict) -> tuple[str, np.ndarray | None]:
    """The best span's text in `context`, and the kind probabilities averaged over its windows (None without a
    kind head)."""
    windows = make_windows(tokenizer, question, [context], settings["max_length"], settings["stride"])
    names = {i.name for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    width = max(len(w.input_ids) for w in windows)
    starts = np.full((len(windows), width), -1e4, dtype=np.float32)
    ends = starts.copy()
    kinds = []
    for row, window in enumerate(windows):
        got = session.run(outputs, {k: v for k, v in feed([window]).items() if k in names})
        starts[row, :got[0].shape[1]], ends[row, :got[1].shape[1]] = got[0][0], got[1][0]
        if len(got) > 2:
            kinds.append(np.exp(got[2][0] - got[2][0].max()) / np.exp(got[2][0] - got[2][0].max()).sum())
    span = decode(windows, starts, ends, 1)[0]
    return (context[span.start:span.end] if span else ""), (np.mean(kinds, axis=0) if kinds else None)


def best_of(session, tokenizer, question: str, contexts: list[str], settings: dict) -> str:
    """The span with the highest score over several contexts, as `ask` compares sentence runs."""
    windows = make_windows(tokenizer, question, contexts, settings["max_length"], settings["stride"])
    names = {i.name for i in session.get_inputs()}
    width = max(len(w.input_ids) for w in windows)
    starts = np.full((len(windows), width), -1e4, dtype=np.float32)
    ends = starts.copy()
    for row, window in enumerate(windows):
        got = session.run(["start_logits", "end_logits"], {k: v for k, v in feed([window]).items() if k in names})
        starts[row, :got[0].shape[1]], ends[row, :got[1].shape[1]] = got[0][0], got[1][0]
    spans = [s for s in decode(windows, starts, ends, len(contexts)) if s is not None]
    best = max(spans, key=lambda s: s.score, default=None)
    return contexts[best.context][best.start:best.end] if best else ""


def runs(article_contexts: list[str], context: str, turn) -> list[str] | None:
    """What `ask` hands the reader for a turn, in miniature: the run (sentence before + sentence) that holds the
    answer, the run of its paragraph and the run of another paragraph of its article that share the most words
    with the full question without holding the answer (the near misses retrieval brings)."""
    first, last = turn.answer_start, turn.answer_start + len(turn.answer)
    asked_words = set(tokens(turn.original))

    def runs_of(text):
        spans = split_sentences(text)
        return [(text[spans[k - 1][0] if k else a:b], a < last and b > first and text is context)
                for k, (a, b) in enumerate(spans)]

    own = runs_of(context)
    holding = [r for r, held in own if held]
    if not holding:
        return None
    gold = turn.answer.lower()
    overlap = lambda r: len(asked_words & set(tokens(r)))
    near = [max((r for r, held in own if not held and gold not in r.lower()), key=overlap, default=None)]
    others = [r for text in article_contexts if text is not context for r, _ in runs_of(text) if gold not in r.lower()]
    near.append(max(others, key=overlap, default=None))
    return [holding[0], *[r for r in near if r]]


def asked(turn_question: str, history, tokenizer, settings: dict) -> str:
    h = settings["history"]
    return format_question(turn_question, history, max_turns=h["max_turns"], max_history_tokens=h["max_history_tokens"],
                           count_tokens=lambda t: len(tokenizer.encode(t, add_special_tokens=False).ids))


def squad_turns(new, shipped, tokenizer, reporting_articles: list[dict], settings: dict, limit: int, seed: int) -> dict:
    """F1 on follow-up turns of conversations made from SQuAD's reporting articles, the new reader with the
    history, the same without it, and the shipped reader with the bare follow-up; `paragraph`: the turn's
    paragraph given; `runs`: the answer's sentence run among two near misses (`runs`), best span of the three."""
    contexts = {a["title"]: [p["context"] for p in a["paragraphs"]] for a in reporting_articles}
    turns = [(context, t, title) for title, context, talk in conversations(
                 reporting_articles, settings["history"]["seed"], keep_share=settings["history"]["keep_share"],
                 max_turns=settings["history"]["max_turns"]) for t in talk if t.kind != "first"]
    rewritten = [x for x in turns if x[1].kind != "unchanged"]
    unchanged = [x for x in turns if x[1].kind == "unchanged"]
    rng = random.Random(seed)
    rng.shuffle(rewritten)
    rng.shuffle(unchanged)
    chosen = rewritten[:limit * 3 // 4] + unchanged[:limit - min(len(rewritten), limit * 3 // 4)]
    scores = defaultdict(lambda: defaultdict(list))
    lengths = []
    for context, t, title in chosen:
        question = asked(t.question, t.history, tokenizer, settings)
        lengths.append(len(tokenizer.encode(question, add_special_tokens=False).ids))
        given = runs(contexts[title], context, t)
        for name, session, text in (("new_with_history", new, question), ("new_bare", new, t.question),
                                    ("shipped_bare", shipped, t.question)):
            f1 = token_f1(read(session, tokenizer, text, context, settings)[0], t.answer)
            scores[f"paragraph/{name}"][t.kind].append(f1)
            scores[f"paragraph/{name}"]["all"].append(f1)
            if given:
                f1 = token_f1(best_of(session, tokenizer, text, given, settings), t.answer)
                scores[f"runs/{name}"][t.kind].append(f1)
                scores[f"runs/{name}"]["all"].append(f1)
    figures = {name: {kind: {"f1": round(float(np.mean(v)), 4), "turns": len(v)} for kind, v in by.items()}
               for name, by in scores.items()}
    figures["question_tokens"] = {"mean": round(float(np.mean(lengths)), 1), "p50": int(np.median(lengths)),
                                  "p95": int(np.percentile(lengths, 95)), "max": int(max(lengths))}
    return figures


def boolq(session, tokenizer, rows: list[dict], settings: dict, question_of) -> dict:
    """Yes/no accuracy from the kind head on BoolQ's reporting rows: the verdict is the likelier of yes and no;
    also how often the head says "span" instead (the product would then give no verdict)."""
    right, spans = [], []
    for row in rows:
        _, kind = read(session, tokenizer, question_of(row), row["passage"], settings)
        right.append((kind[1] > kind[2]) == bool(row["label"]))
        spans.append(int(np.argmax(kind)) == 0)
    yes = float(np.mean([bool(r["label"]) for r in rows]))
    return {"questions": len(rows), "accuracy": round(float(np.mean(right)), 4),
            "majority_class": round(max(yes, 1 - yes), 4), "head_says_span": round(float(np.mean(spans)), 4),
            "accuracy_when_head_says_yes_or_no": round(float(np.mean([r for r, s in zip(right, spans) if not s]))
                                                       if not all(spans) else 0.0, 4)}


def squad_kinds(session, tokenizer, sample, settings: dict) -> dict:
    """On SQuAD reporting questions (all span questions): how often the kind head says yes or no."""
    said = [KINDS[int(np.argmax(read(session, tokenizer, qa["question"], context, settings)[1]))]
            for _, context, qa in sample]
    return {"questions": len(said), "share_not_span": round(float(np.mean([k != "span" for k in said])), 4)}


def coqa(new, shipped, tokenizer, settings: dict) -> dict:
    """CoQA CNN dev, reporting stories: each turn read over the story's sentences that hold its evidence (CoQA's
    rationale), with the run's earlier turns as history; span F1 on `span` turns, yes/no accuracy on `yesno`."""
    runs = [json.loads(line) for line in (COQA / "conversations.jsonl").read_text(encoding="utf-8").splitlines() if line]
    scores, missing, stories = defaultdict(list), 0, set()
    for run in runs:
        story_id = run["article_ids"][0]
        if not reporting(story_id, 2):
            continue
        stories.add(story_id)
        story = (COQA / "corpus" / f"{story_id}.txt").read_text(encoding="utf-8")
        spans = split_sentences(story)
        history = []
        for turn in run["turns"]:
            at = story.find(turn["evidence"].strip())
            if at < 0:
                missing += 1
            else:
                last = at + len(turn["evidence"].strip())
                inside = [(a, b) for a, b in spans if a < last and b > at] or [(at, last)]
                context = story[inside[0][0]:inside[-1][1]]
                follow = "follow_up" if history else "first_of_run"
                if turn["kind"] == "span":
                    for name, session, text in (("new_with_history", new, asked(turn["question"], history, tokenizer, settings)),
                                                ("new_bare", new, turn["question"]), ("shipped_bare", shipped, turn["question"])):
                        f1 = max(token_f1(read(session, tokenizer, text, context, settings)[0], g) for g in turn["answer"])
                        scores[f"span_f1/{name}/all"].append(f1)
                        scores[f"span_f1/{name}/{follow}"].append(f1)
                elif turn["kind"] == "yesno":
                    gold = turn["answers"][0].strip().lower().rstrip(".!")
                    _, kind = read(new, tokenizer, asked(turn["question"], history, tokenizer, settings), context, settings)
                    right = float((kind[1] > kind[2]) == (gold.startswith("yes")))
                    scores["yesno/verdict_right"].append(right)
                    scores["yesno/head_says_span"].append(float(np.argmax(kind) == 0))
                    if np.argmax(kind) != 0:
                        scores["yesno/verdict_right_when_head_says_yes_or_no"].append(right)
                    scores["yesno/head_says_yes_or_no_and_right"].append(float(np.argmax(kind) != 0) * right)
            history.append((turn["question"], turn["answers"][0]))
    figures = {k: {"value": round(float(np.mean(v)), 4), "turns": len(v)} for k, v in sorted(scores.items())}
    return {"split": "by story: sha256(story id) % 2 == 0 is the reporting part", "stories": len(stories),
            "turns_without_evidence_found": missing, **figures}
