"""Every development question's whole answer, written down, to show that a refactor changed nothing.

    .venv/bin/python benchmarks/same_answers.py --write before.jsonl     # on the old code
    .venv/bin/python benchmarks/same_answers.py --check before.jsonl     # on the new code: lists each difference

Asks every conversation of the seeds development set, the unanswerable seeds set and the XQuAD slice
(all parts: a refactor must not move any answer) with the default retriever and the real models,
and records the answer text, its span, the abstention, and each citation's passage, score and
sentence offsets. Scores are rounded to 1e-4: the same computation in another order may differ in
the last bits of a float, which is not a different answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT)]
from bot import runtime  # noqa: E402

runtime.prepare()  # the process settings of every citeqa entry point (bot/runtime.py)

from bot.settings import Settings, make_embedder  # noqa: E402
from retrieval.engine import Engine, ask  # noqa: E402
from retrieval.evaluate.run import load_questions  # noqa: E402
from retrieval.index.files.refresh import build  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SETS = [  # (name, corpus, questions)
    ("seeds", ROOT / "seeds", EVAL / "dev.jsonl"),
    ("unanswerable", ROOT / "seeds", ROOT / "tests" / "data" / "unanswerable_seeds.jsonl"),
    ("xquad", EVAL / "xquad" / "corpus", EVAL / "xquad" / "dev.jsonl"),
]


def answers() -> list[dict]:
    embedder = make_embedder(Settings(_env_file=None, index=ROOT / ".citeqa" / "index"))
    records = []
    for name, corpus, questions in SETS:
        with tempfile.TemporaryDirectory(prefix="citeqa-same-") as scratch:
            build(corpus, Path(scratch), embedder)
            engine = Engine.open(Path(scratch), embedder)
            for conversation in load_questions(questions):
                history = []
                for item in conversation:
                    answer = ask(engine, item.question, history)
                    history.append(answer.as_turn())
                    records.append(_record(name, item.id, item.question, answer))
        print(f"{name}: {sum(r['set'] == name for r in records)} answers", file=sys.stderr)
    return records


def _record(name: str, item_id: str, question: str, answer) -> dict:
    return {
        "set": name, "id": item_id, "question": question, "text": answer.text, "abstained": answer.abstained,
        "span": answer.span, "search_query": answer.search_query,
        "citations": [{"passage": c.passage_id, "score": round(c.score, 4),
                       "sentences": [[s.start, s.end] for s in c.sentences]} for c in answer.citations],
        "signals": {k: round(v, 4) if isinstance(v, float) else v
                    for k, v in (answer.details or {}).get("signals", {}).items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args()
    records = answers()
    if args.write:
        args.write.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        print(f"wrote {len(records)} answers to {args.write}")
        return
    before = [json.loads(line) for line in args.check.read_text(encoding="utf-8").splitlines()]
    differences = [(b, r) for b, r in zip(before, records) if b != r]
    if len(before) != len(records):
        print(f"{len(before)} answers before, {len(records)} now")
    for b, r in differences:
        changed = sorted(k for k in r if b.get(k) != r[k])
        print(f"{r['set']} {r['id']} {r['question']!r}: {', '.join(changed)} changed")
        for k in changed:
            print(f"    before {k}: {json.dumps(b.get(k), ensure_ascii=False)[:300]}")
            print(f"    now    {k}: {json.dumps(r[k], ensure_ascii=False)[:300]}")
    print(f"{len(records) - len(differences)} of {len(records)} answers identical")
    sys.exit(1 if differences or len(before) != len(records) else 0)


if __name__ == "__main__":
    main()
