"""Sentence boundaries with character offsets, for news prose full of "Mr.", "Co., Ltd" and "U.S."."""

from __future__ import annotations

import re

from retrieval.terms import normalise, terms, terms_of_tokens, tokens_between

# Titles and abbreviations that are followed by a name or a number, never by a new sentence.
_NEVER_FINAL = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "gov", "sen", "rep", "rev", "hon",
    "no", "nos", "vol", "fig", "figs", "vs", "v", "cf", "approx", "dept", "est", "ca", "op",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "pp",
}
# Abbreviations that may end a sentence ("... ZTE Corp. The company ..."): split only when a
# typical sentence opener follows.
_MAYBE_FINAL = {"co", "corp", "inc", "ltd", "bros", "etc", "al", "e.g", "i.e", "a.m", "p.m"}
_OPENERS = {
    "the", "a", "an", "it", "its", "he", "she", "they", "we", "i", "this", "that", "these", "those",
    "there", "in", "on", "at", "but", "and", "as", "after", "before", "since", "when", "while",
    "his", "her", "their", "our", "according", "however", "meanwhile", "also", "both", "for",
}
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_DOTTED = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]?$")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in text[start:end]; a line break always ends one."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        cut = line_start
        for boundary in _BOUNDARY.finditer(text, line_start, start + line.end()):
            if _is_sentence_end(text, cut, boundary.start(), boundary.end()):
                spans.append((cut, boundary.end()))
                cut = boundary.end()
        spans.append((cut, start + line.end()))
    return [span for span in (_strip(text, s, e) for s, e in spans) if span[1] > span[0]]


def _is_sentence_end(text: str, cut: int, stop: int, after: int) -> bool:
    if text[stop] != ".":
        return True  # "!" and "?" always end a sentence
    token = text[cut:stop].rsplit(None, 1)[-1] if text[cut:stop].strip() else ""
    word = token.lstrip("(\"'“‘[").lower()
    next_word = re.match(r"\s*[\"'“‘(\[]?(\w+)", text[after:after + 40])
    opener = bool(next_word) and next_word.group(1).lower() in _OPENERS
    if word in _NEVER_FINAL:
        return False
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. Smith"
    if word in _MAYBE_FINAL or _DOTTED.match(token.lstrip("(\"'“‘[")):
        return opener  # "U.S. The ..." ends; "U.S. Patent Office" does not
    return True


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentences_with_terms(text: str) -> tuple[tuple[int, int, tuple[str, ...]], ...]:
    """(start, end, search terms in order) of each sentence of a text: what search and answer both score."""
    spans = split_sentences(text)
    normalised = normalise(text)
    if len(normalised) != len(text):  # folding moved offsets ("ﬁ" -> "fi"): read each sentence on its own
        return tuple((s, e, tuple(terms(text[s:e]))) for s, e in spans)
    # One normalisation of the whole passage, read sentence by sentence: per-sentence calls cost more
    # than the tokens themselves.
    return tuple((s, e, tuple(terms_of_tokens(tokens_between(normalised, s, e)))) for s, e in spans)
