"""Misspelt names in a question put right against the names the corpus writes ("Percy Shelly" -> "Shelley").

A name the corpus never uses cannot match anything; when the corpus writes a name exactly one edit
away from it (a letter dropped, added, changed, or two swapped), the question most likely meant that
one. Only names are corrected, and only to names: an unknown place ("Paris") never turns into a common
word ("parts"), and an ordinary word the corpus lacks ("tallest") never turns into a stem that only
looks like one ("talles"), so the question keeps what makes it unanswerable. Names of fewer than five
letters have too many neighbours to guess.
"""

from __future__ import annotations

import re
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


class Speller:
    def __init__(self, frequency: Mapping[str, float], names: frozenset[str]):
        self.frequency = frequency  # term -> weight, lower for commoner terms (the BM25 IDF)
        self.names = names

    def correct(self, text: str) -> str:
        """The text with each unknown word that is one edit from a corpus word replaced by it."""
        return _WORD.sub(lambda m: self._word(m.group(0)), text)

    def _word(self, word: str) -> str:
        lower = fold(word.lower())
        if word.islower() or len(lower) < MIN_LETTERS or not lower.isascii() or lower in STOP_WORDS:
            return word  # "Shelly", "iPhone" and "NASA" are names; "tallest" is not
        if lower in self.names or stem([lower])[0] in self.frequency:
            return word
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
