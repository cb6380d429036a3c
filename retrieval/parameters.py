"""The fitted parameters that decide answers, read once from parameters.json (written by benchmarks/fit_answer.py)."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.errors import ParametersInvalid

PATH = Path(__file__).with_name("parameters.json")
# Each group and the names it must hold: a file missing one fails at import with the name, not mid-answer.
EXPECTED = {
    "search": ("W_DENSE", "W_BM25", "W_SENTENCE", "W_PREFER", "RERANK"),
    "query": ("CONTEXT_SHARE",),
    "sentences": ("W_BIGRAM", "W_RANK", "W_TYPE", "W_LONG", "PRIOR_POWER"),
    "reading": ("W_SENTENCE", "READER_TERM", "SECOND_MARGIN", "READ_SENTENCES", "FOLLOWUP_READ"),
    "abstention": ("WEIGHTS", "BIAS", "MAX_DOUBT", "IN_CONTEXT"),
    "verdict": ("WEIGHTS", "BIAS", "MIN_SURE"),
    "lists": ("P_SET", "LIST_MARGIN", "CO_ARGUMENTS", "P_COORDINATED"),
}


def load(path: Path = PATH) -> dict[str, dict]:
    """Every group of parameters, checked to hold each expected name; the manifest stays in the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ParametersInvalid(f"{path}: {err}; rebuild it with benchmarks/fit_answer.py --write") from err
    if not isinstance(data, dict) or not all(isinstance(data.get(group), dict) for group in EXPECTED):
        raise ParametersInvalid(f"{path} is not an object of the groups {', '.join(EXPECTED)}; "
                                f"rebuild it with benchmarks/fit_answer.py --write")
    missing = [f"{group}.{name}" for group, names in EXPECTED.items() for name in names
               if name not in data[group]]
    if missing:
        raise ParametersInvalid(f"{path} lacks {', '.join(missing)}; rebuild it with benchmarks/fit_answer.py --write")
    return {group: data[group] for group in EXPECTED}


FITTED = load()
