"""Every passage's sentences as term ids in flat arrays: the best sentence's share of a query, for many
passages at once, without splitting a passage while a question waits."""

from __future__ import annotations

from array import array
from typing import Iterable, Sequence

import numpy as np

from retrieval.sentences import sentences_with_terms


class SentenceIndex:
    """Built once per loaded version, from the same sentence split the answers use.

    Splitting the 15 candidates of a question on demand cost 2 ms at 100k passages, more than
    anything else a search does besides embedding and FAISS; this keeps about 4 bytes a term
    (26 MB at 100k passages).
    """

    def __init__(self, vocabulary: dict[str, int], ids: np.ndarray, sentence_ends: np.ndarray,
                 passage_ends: np.ndarray):
        self.vocabulary = vocabulary
        self.ids = ids  # the term ids of every sentence that has a term, passage after passage
        self.sentence_ends = sentence_ends  # where each of those sentences ends in ids
        self.passage_ends = passage_ends  # where each passage's sentences end in sentence_ends

    @classmethod
    def build(cls, texts: Iterable[str]) -> tuple["SentenceIndex", list[list[str]]]:
        """The index of `texts` (one a passage) and each text's terms in order: what BM25 indexes, so a
        load tokenises every passage once for both."""
        vocabulary = _Numbering()
        number = vocabulary.__getitem__
        ids, sentence_ends, passage_ends = array("i"), array("q"), array("q")
        passage_terms: list[list[str]] = []
        for text in texts:
            found: list[str] = []
            for _, _, sentence_terms in sentences_with_terms(text):
                if sentence_terms:  # a sentence without a term covers nothing
                    ids.extend(map(number, sentence_terms))
                    sentence_ends.append(len(ids))
                    found.extend(sentence_terms)
            passage_ends.append(len(sentence_ends))
            passage_terms.append(found)
        arrays = (np.array(ids, dtype=np.int32), np.array(sentence_ends, dtype=np.int64),
                  np.array(passage_ends, dtype=np.int64))
        return cls(dict(vocabulary), *arrays), passage_terms

    def best_coverage(self, positions: Sequence[int], wanted: dict[str, float]) -> dict[int, float]:
        """Per passage position, the weighted share of `wanted` that its best single sentence holds."""
        total = sum(wanted.values()) or 1.0
        known = [(self.vocabulary[t], w) for t, w in wanted.items() if t in self.vocabulary]
        if not known:
            return {i: 0.0 for i in positions}
        query_ids = np.array([k for k, _ in known], dtype=np.int32)
        weights = np.array([w for _, w in known])
        out = {}
        for i in positions:
            first = int(self.passage_ends[i - 1]) if i else 0
            last = int(self.passage_ends[i])
            if first == last:
                out[i] = 0.0
                continue
            start = int(self.sentence_ends[first - 1]) if first else 0
            present = self.ids[start:self.sentence_ends[last - 1], None] == query_ids  # tokens x query terms
            starts = np.empty(last - first, dtype=np.int64)  # every sentence holds a term: none is empty
            starts[0] = 0
            starts[1:] = self.sentence_ends[first:last - 1] - start
            per_sentence = np.logical_or.reduceat(present, starts, axis=0)  # sentences x query terms
            out[i] = float((per_sentence @ weights).max()) / total
        return out


class _Numbering(dict):
    """term -> id, a new term numbered as it is first looked up: `map` over a sentence runs in C."""

    def __missing__(self, term: str) -> int:
        self[term] = number = len(self)
        return number
