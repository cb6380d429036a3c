"""Set questions for development: SQuAD questions whose answer is a coordination, mined with spaCy.

    .venv/bin/python benchmarks/list_questions.py            # rewrites benchmarks/data/lists/squad*

SQuAD v1.1 train (`../shared/squad/train-v1.1.json`) is split by article as the reader's training split it
(`training/train_reader.py`: sha256(title) % 10 == 0 is the part the reader never trained on). From the
articles the reader never saw, every question whose answer is a coordination of two or more members
("England, Denmark and Norway") becomes a set question: `answer` and `members` are the conjuncts
(`retrieval.answer.coordination`), `evidence` the whole answer, `article` its paragraph (`sqAAA-P`, in
`squad_corpus/`, every paragraph of those articles that holds one, beside a few that do not). They split into
tuning and reporting parts by article like every development set (`retrieval.evaluate.run.part_of`).

Every question, labelled with whether its answer is a coordination, is the set-question detector's data
(`benchmarks/fit_lists.py`): it trains on the reader's training articles and is measured on the others.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.answer.coordination import conjuncts, parser, phrase, same_kind  # noqa: E402

SQUAD = ROOT.parent / "shared" / "squad" / "train-v1.1.json"
OUT = ROOT / "benchmarks" / "data" / "lists"
MAYBE = re.compile(r",| and | or |;| & ")


def held_out(title: str) -> bool:
    """The reader's reporting articles (training/train_reader.py's split): never trained on."""
    return int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16) % 10 == 0


def coordination(doc) -> list[str]:
    """The members when the whole text is one coordination of nominals, else []."""
    roots = [t for t in doc if t.dep_ == "ROOT"]
    if len(roots) != 1 or roots[0].pos_ not in ("NOUN", "PROPN", "NUM"):
        return []
    root = roots[0]
    found = [t for t in conjuncts(root) if t is root or same_kind(root, t)]
    spans = sorted({phrase(t) for t in found})
    texts = [doc.text[a:b] for a, b in spans]
    if len(texts) < 2 or any(len(t.split()) > 6 for t in texts) or len(set(t.lower() for t in texts)) < len(texts):
        return []
    return texts


def mine() -> tuple[list[dict], list[dict]]:
    """(the held-out articles' set questions, every question labelled: a set question or not, held out or not)."""
    squad = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    rows = []
    for a, article in enumerate(squad):
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]["text"].strip()
                rows.append((a, p, article["title"], qa["question"].strip(), answer))
    maybe = [k for k, r in enumerate(rows) if MAYBE.search(r[4]) and len(r[4].split()) <= 25]
    members = {}
    for k, doc in zip(maybe, parser().pipe((rows[k][4] for k in maybe), batch_size=256)):
        found = coordination(doc)
        if found:
            members[k] = found
    sets, labelled = [], []
    for k, (a, p, title, question, answer) in enumerate(rows):
        if held_out(title):
            if k in members:
                sets.append({"id": f"sq{a:03d}-{p}-{k}", "question": question, "article": f"sq{a:03d}-{p}",
                             "evidence": answer, "answer": members[k], "members": members[k]})
        labelled.append({"question": question, "set": k in members, "held_out": held_out(title)})
    return sets, labelled


def main() -> None:
    sets, labelled = mine()
    squad = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    corpus = OUT / "squad_corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for old in corpus.glob("*.txt"):
        old.unlink()
    wanted = {s["article"] for s in sets}
    # Beside each answering paragraph, the paragraph after it: retrieval must find the right one of two.
    for name in sorted(wanted | {re.sub(r"-(\d+)$", lambda m: f"-{int(m.group(1)) + 1}", w) for w in wanted}):
        a, p = (int(x) for x in name[2:].split("-"))
        if p < len(squad[a]["paragraphs"]):
            text = squad[a]["paragraphs"][p]["context"]
            (corpus / f"{name}.txt").write_text(f"{squad[a]['title'].replace('_', ' ')}\n\n{text}\n", encoding="utf-8")
    (OUT / "squad.jsonl").write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in sets), encoding="utf-8")
    print(f"{len(sets)} set questions over {len(list(corpus.glob('*.txt')))} paragraphs; "
          f"{len(labelled)} questions labelled, {sum(r['set'] for r in labelled)} of them set questions")


if __name__ == "__main__":
    main()
