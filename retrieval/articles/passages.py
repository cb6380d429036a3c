"""Cut an article into overlapping windows of whole sentences that keep their character offsets."""

from __future__ import annotations

import re

from retrieval.articles.sentences import split_sentences
from retrieval.types import Article, Passage

MIN_WORDS = 60
MAX_WORDS = 150
_WORD = re.compile(r"\S+")


def split_passages(article: Article, first_row: int = 0, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> list[Passage]:
    """Windows of roughly min..max words, each overlapping the previous by one sentence.

    Windows never cross a section boundary (a removed boilerplate block lies between sections),
    so `article.text[p.start:p.end]` never contains text that cleaning removed.
    """
    spans: list[tuple[int, int]] = []
    for section_start, section_end in article.sections:
        sentences = [piece for s, e in split_sentences(article.text, section_start, section_end)
                     for piece in _cap_length(article.text, s, e, max_words)]
        spans.extend(_windows(article.text, sentences, min_words, max_words))
    return [
        Passage(id=f"{article.id}#{n}", row=first_row + n, article_id=article.id, title=article.title,
                start=s, end=e, text=article.text[s:e], date=article.date)
        for n, (s, e) in enumerate(spans)
    ]


def _windows(text: str, sentences: list[tuple[int, int]], min_words: int, max_words: int) -> list[tuple[int, int]]:
    words = [len(_WORD.findall(text[s:e])) for s, e in sentences]
    windows = []
    i = 0
    while i < len(sentences):
        j, count = i, 0
        while j < len(sentences) and (count < min_words or count + words[j] <= max_words):
            count += words[j]
            j += 1
        # A short tail would make a passage of one repeated sentence and a scrap: absorb it.
        if j < len(sentences) and sum(words[j:]) < min_words // 2:
            j = len(sentences)
        windows.append((sentences[i][0], sentences[j - 1][1]))
        if j >= len(sentences):
            break
        i = j - 1 if j - 1 > i else j
    return windows


def _cap_length(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """A 'sentence' longer than a passage (a table row, a run-on line) is cut at word boundaries."""
    words = list(_WORD.finditer(text, start, end))
    if len(words) <= max_words:
        return [(start, end)]
    return [(words[k].start(), words[min(k + max_words, len(words)) - 1].end())
            for k in range(0, len(words), max_words)]
