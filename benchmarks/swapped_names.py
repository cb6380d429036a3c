"""Near-topic questions the corpus cannot answer, made from the answerable ones by swapping a name.

    .venv/bin/python benchmarks/swapped_names.py   # writes tests/data/swapped_{unseen,elsewhere}_{seeds,xquad}.jsonl

A user's near-topic question reads like an answerable one with one name changed ("How many patent
applications did Shanghai file?" over articles about Beijing); the few such questions written by hand
in tests/data/unanswerable_*.jsonl are too few to fit or measure a refusal on. So each answerable first
turn of a development set that names something its article names (a run of capitalised words after the
question's first word) is written twice with that run replaced:
- *unseen*: by a well-known name no article of the corpus contains any word of ("Nairobi", "Picasso");
- *elsewhere*: by a name that another article of the corpus writes, so the question's words all occur
  in the corpus but not together ("When was Tesla's administration running out of money?"). Seed
  articles all tell of IP work in Beijing, where a name from another article can make the question
  answerable after all, so these are made for XQuAD only, whose articles are of 48 unrelated topics.
Each record keeps the article it was made from (`article`), only so that `evaluate.part_of` puts it in
the same half as its source: a question made from a reporting question is never fitted on.
The choice of run and name is by a hash of the question's id: the same files on every run.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.articles.folder import read_folder  # noqa: E402
from retrieval.evaluate.run import load_questions  # noqa: E402
from retrieval.terms import STOP_WORDS  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
SETS = [  # (corpus, questions, its name in the output files, whether to make "elsewhere" swaps)
    (ROOT / "seeds", SHARED / "dev.jsonl", "seeds", False),
    (SHARED / "xquad/corpus", SHARED / "xquad/dev.jsonl", "xquad", True),
]
KINDS = ("unseen", "elsewhere")
# Well-known names of places, people and bodies; those with a word some article contains are dropped.
OUTSIDE_NAMES = (
    "Nairobi", "Montevideo", "Reykjavik", "Melbourne", "Toronto", "Lagos", "Helsinki", "Lima", "Osaka",
    "Marseille", "Brazil", "Norway", "Kenya", "Peru", "Vietnam", "Portugal", "Canada", "Egypt",
    "Picasso", "Mozart", "Gandhi", "Einstein", "Beethoven", "Shakespeare", "Cleopatra", "Galileo",
    "Angela Merkel", "Nelson Mandela", "Pablo Neruda", "Marie Curie", "Leo Tolstoy",
    "Toyota", "UNICEF", "Interpol", "Greenpeace", "Siemens", "Nestle", "the Red Cross", "Samsung",
)
# A run of capitalised words (hyphens and inner dots allowed: "E.I. du Pont" stays two runs, which is fine).
_RUN = re.compile(r"\b[A-Z][\w.\-]*(?:\s+[A-Z][\w.\-]*)*")
_WORD = re.compile(r"[^\W\d_]+")


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def name_runs(question: str) -> list[re.Match]:
    """The question's runs of capitalised words, its first word aside ("Who", "When", "Which NASA ...")."""
    runs = []
    for m in _RUN.finditer(question):
        if m.start() == 0:  # the question's first word opens the sentence: drop it, keep what follows
            rest = re.match(r"\S+\s+", m.group(0))
            if rest is None:
                continue
            m = _RUN.search(question, rest.end())
            if m is None or m.start() != rest.end():
                continue
        if not words(m.group(0)) - STOP_WORDS:
            continue
        runs.append(m)
    return runs


def pick(key: str, options: list[str]) -> str:
    return options[int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % len(options)]


def article_names(text: str) -> list[str]:
    """Runs of capitalised words that an article writes inside its sentences: its names."""
    found = {m.group(0) for m in re.finditer(r"(?<=[\w,;:)] )[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*){0,2}", text)}
    return sorted(n for n in found if len(n) >= 4 and not words(n) & STOP_WORDS)


def swapped(corpus: Path, questions: Path, elsewhere: bool) -> list[dict]:
    articles, _ = read_folder(corpus)
    corpus_words = set().union(*(words(f"{a.title}\n{a.text}") for a in articles))
    outside = [n for n in OUTSIDE_NAMES if not words(n) & corpus_words]
    by_topic: dict[str, list[str]] = {}  # XQuAD's paragraphs "xq07-3" go with their Wikipedia article "xq07"
    for a in articles:
        by_topic.setdefault(re.sub(r"-\d+$", "", a.id), []).extend(article_names(a.text))
    text_of = {a.id: f"{a.title}\n{a.text}".lower() for a in articles}
    topic_text = {t: "\n".join(text_of[a.id] for a in articles if re.sub(r"-\d+$", "", a.id) == t) for t in by_topic}
    out = []
    for conversation in load_questions(questions):
        item = conversation[0]
        if item.abstain or not item.article:
            continue
        source = text_of[item.article]
        runs = [m for m in name_runs(item.question) if m.group(0).lower() in source]
        if not runs:
            continue
        run = pick(item.id, runs) if len(runs) > 1 else runs[0]
        before, after = item.question[:run.start()], item.question[run.end():]
        made = [("unseen", pick(item.id, outside))]
        topic = re.sub(r"-\d+$", "", item.article)
        others = sorted({n for t, names in by_topic.items() if t != topic for n in names}
                        - {n for n in by_topic[topic]})
        # Names of another topic that its own article's text never contains (a word in common may be fine).
        others = [n for n in others if n.lower() not in topic_text[topic]]
        if elsewhere and others:
            made.append(("elsewhere", pick(item.id + "/elsewhere", others)))
        for kind, name in made:
            out.append({"id": f"{item.id}-{kind}", "question": f"{before}{name}{after}", "abstain": True,
                        "article": item.article, "swapped": {"from": run.group(0), "at": run.start(), "to": name, "kind": kind}})
    return out


def output(kind: str, name: str) -> Path:
    return ROOT / "tests" / "data" / f"swapped_{kind}_{name}.jsonl"


def main() -> None:
    for corpus, questions, name, elsewhere in SETS:
        records = swapped(corpus, questions, elsewhere)
        for kind in KINDS[:2 if elsewhere else 1]:
            mine = [r for r in records if r["swapped"]["kind"] == kind]
            output(kind, name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in mine), encoding="utf-8")
            print(f"{output(kind, name).relative_to(ROOT)}: {len(mine)} questions")


if __name__ == "__main__":
    main()
