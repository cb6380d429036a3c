"""Every passage's sentences, with their offsets and term ids, in flat arrays written with the version.

The build splits each passage once; loading memory-maps the arrays, and a question reads the
sentences of the passages it reaches (`sentences`) and the best sentence's share of its terms, for
many passages at once (`best_coverage`), without splitting or tokenising anything.
"""

from __future__ import annotations

import mmap
from array import array
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from retrieval.articles.sentences import sentences_with_terms

FILES = ("sentence_spans.npy", "sentence_terms.npy", "sentence_term_ends.npy", "passage_sentence_ends.npy")
Sentences = tuple[tuple[int, int, tuple[str, ...]], ...]  # (start, end, terms in order), offsets in the passage


class SentenceIndex:
    def __init__(self, spans: np.ndarray, term_ids: np.ndarray, term_ends: np.ndarray, passage_ends: np.ndarray,
                 vocabulary: dict[str, int]):
        self.spans = spans  # (sentences, 2) int32: start and end of each sentence in its passage's text
        self.term_ids = term_ids  # int32: the term ids of every sentence, sentence after sentence
        self.term_ends = term_ends  # int64: where each sentence's terms end in term_ids
        self.passage_ends = passage_ends  # int64: where each passage's sentences end in spans
        self.vocabulary = vocabulary  # term -> id, shared with BM25
        self._terms: list[str] | None = None

    @property
    def terms(self) -> list[str]:
        """id -> term; made on first use (only an answer reads terms back as text)."""
        if self._terms is None:
            names = [""] * len(self.vocabulary)
            for term, i in self.vocabulary.items():
                names[i] = term
            self._terms = names
        return self._terms

    def __len__(self) -> int:
        return len(self.passage_ends)

    def _sentence_range(self, position: int) -> tuple[int, int]:
        return (int(self.passage_ends[position - 1]) if position else 0), int(self.passage_ends[position])

    def _term_start(self, sentence: int) -> int:
        return int(self.term_ends[sentence - 1]) if sentence else 0

    def sentences(self, position: int) -> Sentences:
        """(start, end, terms in order) of each sentence of the passage at `position`."""
        first, last = self._sentence_range(position)
        if first == last:
            return ()
        names = self.terms
        base = self._term_start(first)
        ends = self.term_ends[first:last].tolist()
        ids = self.term_ids[base:ends[-1]].tolist()
        out, start = [], 0
        for (s, e), end in zip(self.spans[first:last].tolist(), ends):
            out.append((s, e, tuple(names[i] for i in ids[start:end - base])))
            start = end - base
        return tuple(out)

    def passage_term_ids(self, position: int) -> np.ndarray:
        """The term ids of a passage's sentences, in order: what BM25 indexes besides the heading."""
        first, last = self._sentence_range(position)
        return self.term_ids[self._term_start(first):self._term_start(last)]

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
            first, last = self._sentence_range(i)
            start, stop = self._term_start(first), self._term_start(last)
            if start == stop:  # no sentence with a term
                out[i] = 0.0
                continue
            present = self.term_ids[start:stop, None] == query_ids  # tokens x query terms
            ends = self.term_ends[first:last] - start
            starts = np.concatenate(([0], ends[:-1]))
            # A sentence without terms has no rows: reduceat over the others (whose rows run to the next
            # one's start, with nothing between) gives each sentence its own terms.
            starts = starts[ends > starts]
            per_sentence = np.logical_or.reduceat(present, starts, axis=0)  # sentences x query terms
            out[i] = float((per_sentence @ weights).max()) / total
        return out

    def save(self, folder: Path) -> None:
        for name, values in zip(FILES, (self.spans, self.term_ids, self.term_ends, self.passage_ends)):
            np.save(Path(folder) / name, np.ascontiguousarray(values), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, vocabulary: dict[str, int]) -> "SentenceIndex":
        arrays = [np.load(Path(folder) / name, allow_pickle=False, mmap_mode="r") for name in FILES]
        return cls(*arrays, vocabulary=vocabulary)

    def disagreements(self, passage_lengths: np.ndarray) -> list[str]:
        """What does not fit the version's passages (their text lengths, in order), naming the file.

        Read a slice at a time, each slice's pages handed back after: a load must not hold the arrays
        in memory that questions read only a few rows of.
        """
        n, sentences = len(passage_lengths), len(self.spans)
        spans, terms, term_ends, passage_ends = FILES
        if self.passage_ends.shape != (n,):
            return [f"{passage_ends} holds {len(self.passage_ends)} passages, the version {n}"]
        if self.spans.ndim != 2 or self.spans.shape[1:] != (2,) or self.term_ends.shape != (sentences,):
            return [f"{spans} {self.spans.shape} and {term_ends} {self.term_ends.shape} disagree"]
        if (n and int(self.passage_ends[-1]) != sentences) or (sentences and int(self.term_ends[-1]) != len(self.term_ids)):
            return [f"{passage_ends} and {term_ends} do not fit the {sentences} sentences of {spans} "
                    f"and the {len(self.term_ids)} term ids of {terms}"]
        try:
            for first in range(0, n, _CHECKED_AT_ONCE):
                problem = self._disagreement(passage_lengths, first, min(n, first + _CHECKED_AT_ONCE))
                if problem:
                    return [problem]
        finally:
            hand_back(self.spans, self.term_ends, self.passage_ends)
        return []

    def _disagreement(self, passage_lengths: np.ndarray, first: int, last: int) -> str | None:
        spans, _, term_ends, passage_ends = FILES
        ends = np.asarray(self.passage_ends[first:last])
        begin = int(self.passage_ends[first - 1]) if first else 0
        counts = np.diff(ends, prepend=begin)
        if np.any(counts < 0):
            return f"{passage_ends} goes backwards"
        stop = int(ends[-1])
        own = np.asarray(self.term_ends[begin:stop])
        if len(own) and (np.any(np.diff(own) < 0) or (begin and own[0] < self.term_ends[begin - 1])):
            return f"{term_ends} goes backwards"
        lengths = np.repeat(passage_lengths[first:last], counts)
        starts, finishes = np.asarray(self.spans[begin:stop, 0]), np.asarray(self.spans[begin:stop, 1])
        if np.any(starts < 0) or np.any(finishes > lengths) or np.any(starts >= finishes):
            return f"{spans} puts a sentence outside its passage"
        hand_back(self.spans, self.term_ends, self.passage_ends)
        return None


_CHECKED_AT_ONCE = 20_000  # passages


def hand_back(*arrays: np.ndarray) -> None:
    """Drop the pages of memory-mapped arrays from this process (they stay in the page cache, and are
    read again if touched): what was read to check a file is not kept as if questions needed it."""
    for values in arrays:
        mapped = getattr(values, "_mmap", None)
        if mapped is not None:
            mapped.madvise(mmap.MADV_DONTNEED)


class SentenceBuilder:
    """Assembles a SentenceIndex passage by passage: a new passage is split and its terms numbered; a
    passage kept from the previous version is copied as stored ids, never tokenised again."""

    def __init__(self, vocabulary: dict[str, int] | None = None):
        self.numbering = _Numbering(vocabulary or {})
        self.spans, self.term_ids = array("i"), array("i")
        self.term_ends, self.passage_ends = array("q"), array("q")
        self._source: SentenceIndex | None = None
        self._renumber = np.zeros(0, dtype=np.int32)  # the source's id -> this builder's id, -1 until numbered

    def add_text(self, text: str) -> list[int]:
        """Split and number a new passage; returns its sentences' term ids, in order."""
        number = self.numbering.__getitem__
        found: list[int] = []
        for start, end, sentence_terms in sentences_with_terms(text):
            ids = list(map(number, sentence_terms))
            self.spans.extend((start, end))
            self.term_ids.extend(ids)
            self.term_ends.append(len(self.term_ids))
            found.extend(ids)
        self.passage_ends.append(len(self.term_ends))
        return found

    def add_stored(self, index: SentenceIndex, position: int) -> np.ndarray:
        """Copy the passage at `position` of `index` as stored; returns its term ids in this builder's numbering.

        Only terms some copied or new passage holds are numbered, so a term whose last passage was
        removed leaves the vocabulary (and the IDF) with it.
        """
        if self._source is not index:
            self._source, self._renumber = index, np.full(len(index.vocabulary), -1, dtype=np.int32)
        first, last = index._sentence_range(position)
        old = index.passage_term_ids(position)
        ids = self._renumber[old]
        if np.any(ids < 0):
            names = index.terms
            for u in np.unique(old[ids < 0]).tolist():
                self._renumber[u] = self.numbering[names[u]]
            ids = self._renumber[old]
        offset = len(self.term_ids) - index._term_start(first)
        self.spans.extend(np.asarray(index.spans[first:last]).ravel().tolist())
        self.term_ids.extend(ids.tolist())
        self.term_ends.extend((np.asarray(index.term_ends[first:last]) + offset).tolist())
        self.passage_ends.append(len(self.term_ends))
        return ids

    def number(self, terms: Iterable[str]) -> list[int]:
        return list(map(self.numbering.__getitem__, terms))

    def finish(self) -> SentenceIndex:
        # Term ids are checked here, once: a load reads only the sizes (scanning them would bring every
        # page of the file into memory).
        if self.term_ids and max(self.term_ids) >= len(self.numbering):
            raise ValueError("a term id outside the vocabulary")
        arrays = (np.array(self.spans, dtype=np.int32).reshape(-1, 2), np.array(self.term_ids, dtype=np.int32),
                  np.array(self.term_ends, dtype=np.int64), np.array(self.passage_ends, dtype=np.int64))
        return SentenceIndex(*arrays, vocabulary=dict(self.numbering))


class _Numbering(dict):
    """term -> id, a new term numbered as it is first looked up: `map` over a sentence runs in C."""

    def __missing__(self, term: str) -> int:
        self[term] = number = len(self)
        return number
