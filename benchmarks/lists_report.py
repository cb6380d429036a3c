"""The set questions' figures (issue 35): `citeqa eval` over benchmarks/data/lists/, both parts, as one results file.

    .venv/bin/python benchmarks/lists_report.py     # runs RUNS, writes benchmarks/results/lists.json and the page

Each run is `citeqa eval --json` on one questions file over its corpus (an index built from scratch), for the
tuning part (what benchmarks/fit_lists.py fitted on) and the reporting part (never fitted on);
benchmarks/report.py renders lists.json into docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LISTS = "benchmarks/data/lists"
RUNS = [  # (label, questions, corpus)
    ("set questions over the seeds (written)", f"{LISTS}/seeds.jsonl", "seeds"),
    ("set questions over XQuAD dev articles (written)", f"{LISTS}/xquad.jsonl", "../shared/eval/xquad/corpus"),
    ("SQuAD set questions, mined (articles the reader never saw)", f"{LISTS}/squad.jsonl", f"{LISTS}/squad_corpus"),
    ("\"Who is X?\" over the seeds (written)", f"{LISTS}/seeds_roles.jsonl", "seeds"),
]
FIGURES = ("list_span_recall", "list_sentences_hold_all", "list_first_citation", "list_member_precision",
           "hit@1", "answer_hit", "false_abstain", "questions")


def command(questions: str, corpus: str, part: str) -> list[str]:
    return ["citeqa", "eval", "--part", part, "--questions", questions, "--corpus", corpus]


def run(out: Path = RESULTS / "lists.json") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CITEQA_INDEX=str(ROOT / ".citeqa" / "eval-index"),
               CITEQA_LOG_LEVEL="WARNING")
    citeqa = str(Path(sys.executable).parent / "citeqa")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    results = {"commit": commit, "runs": []}
    for label, questions, corpus in RUNS:
        for part in ("tuning", "reporting"):
            args = command(questions, corpus, part)
            print(shlex.join(args), flush=True)
            done = subprocess.run([citeqa, *args[1:], "--json"], cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{shlex.join(args)} failed:\n{done.stderr[-3000:]}")
            results["runs"].append({"set": label, "part": part, "command": shlex.join(args),
                                    "figures": json.loads(done.stdout)})
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


def lists_markdown(r: dict) -> str:
    """lists.json as one table: a row per set and part, a column per figure."""
    out = [f"`benchmarks/lists_report.py` at commit {r['commit']}: each row is `citeqa eval --json --part PART "
           "--questions FILE --corpus CORPUS` (hybrid retrieval, an index built from scratch). The reporting rows "
           "are the figures; the tuning rows are what `benchmarks/fit_lists.py` fitted on.", "",
           "| set | part | " + " | ".join(FIGURES) + " |", "|---|---|" + "---|" * len(FIGURES)]
    for run_ in r["runs"]:
        f = run_["figures"]
        out.append(f"| {run_['set']} | {run_['part']} | " + " | ".join(str(f.get(n, "—")) for n in FIGURES) + " |")
    out += ["", "Commands: " + "; ".join(f"`{run_['command']}`" for run_ in r["runs"] if run_["part"] == "reporting")]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    run()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import report

    report.write_page()
    print("wrote benchmarks/results/lists.json and docs/benchmarks.md")
