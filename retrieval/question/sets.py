"""Whether a question asks for the members of a set ("Which officials ...?", "Who attended ...?").

A logistic model over the question's words, trained on SQuAD questions labelled by whether their answer
is a coordination (benchmarks/fit_lists.py); its weights and pedigree are `retrieval/models/set_questions.json`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

MODEL = Path(__file__).resolve().parent.parent / "models" / "set_questions.json"
_WORD = re.compile(r"[a-z0-9]+")
_WH = {"who", "whom", "whose", "what", "which", "where", "when", "how", "name", "list"}


def features(question: str) -> list[str]:
    """The question's features: its words, the wh-word with the word after it, its first three words,
    and whether a word after the wh-word looks plural ("which officials")."""
    words = _WORD.findall(question.lower())
    out = ["bias"] + [f"w:{w}" for w in dict.fromkeys(words)]
    out.append("q3:" + " ".join(words[:3]))
    wh = next((k for k, w in enumerate(words) if w in _WH), None)
    if wh is not None:
        after = words[wh + 1:wh + 4]
        out.append(f"wh:{words[wh]} {after[0] if after else ''}")
        if words[wh] in ("which", "what", "name", "list") and any(_plural(w) for w in after[:2]):
            out.append("plural")
    return out


def _plural(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ous"))


@functools.lru_cache(maxsize=4)
def _weights(path: Path = MODEL) -> dict[str, float]:
    return json.loads(path.read_text(encoding="utf-8"))["weights"]


def set_probability(question: str, weights: dict[str, float] | None = None) -> float:
    """The model's probability that the question's answer is a set of two or more members."""
    weights = _weights() if weights is None else weights
    z = sum(weights.get(f, 0.0) for f in features(question))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
