"""What the answers need from a version's text, made once by the build and only read after.

Every passage's sentences with their offsets and term ids (retrieval.sentence_index), the BM25 index
with the corpus's one vocabulary and IDF (retrieval.sparse), and the names each article writes (what
the speller corrects a question towards). A refresh copies the stored ids of the passages it keeps and
splits only the passages it adds; what cannot be patched, BM25's statistics, is rebuilt from those ids.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from retrieval import sentence_index, sparse
from retrieval.sentence_index import SentenceBuilder, SentenceIndex
from retrieval.sparse import EMPTY, SparseIndex
from retrieval.spelling import names_in
from retrieval.terms import terms
from retrieval.types import Passage

NAMES = "names.json"
FILES = sentence_index.FILES + sparse.FILES + (NAMES,)  # in the order they are written


@dataclass(frozen=True)
class TextIndex:
    sentences: SentenceIndex
    sparse: SparseIndex
    names: Mapping[str, tuple[str, ...]]  # article id -> the names it writes (see retrieval.spelling)

    @functools.cached_property
    def all_names(self) -> frozenset[str]:
        return frozenset(n for names in self.names.values() for n in names)

    @classmethod
    def build(cls, passages: Sequence[Passage], previous: "TextIndex | None" = None,
              previous_positions: Mapping[int, int] | None = None) -> "TextIndex":
        """The text index of `passages`; a passage whose row `previous_positions` maps to a position of
        `previous` is copied from it (its article unchanged), every other one is split and tokenised."""
        builder = SentenceBuilder({EMPTY: 0})
        heading = functools.lru_cache(maxsize=1024)(lambda title, date: builder.number(terms(f"{title} {date}")))
        copied = previous_positions or {}
        documents: list[list[int]] = []
        fresh_texts: dict[str, list[str]] = {}
        for p in passages:
            position = copied.get(p.row) if previous is not None else None
            if position is None:
                body = builder.add_text(p.text)
                fresh_texts.setdefault(p.article_id, []).append(p.text)
            else:
                body = builder.add_stored(previous.sentences, position).tolist()
            # BM25 reads a passage's heading too: the title names what its sentences take for granted.
            documents.append(heading(p.title, p.date or "") + body)
        sentences = builder.finish()
        names = {a: tuple(sorted(names_in(texts))) for a, texts in fresh_texts.items()}
        for p in passages:
            if p.article_id not in names:
                names[p.article_id] = previous.names[p.article_id]
        return cls(sentences, SparseIndex.build(documents, sentences.vocabulary), names)

    def save(self, folder: Path) -> None:
        self.sentences.save(folder)
        self.sparse.save(folder)
        (Path(folder) / NAMES).write_text(json.dumps(dict(self.names), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "TextIndex":
        bm25 = SparseIndex.load(folder)
        names = json.loads((Path(folder) / NAMES).read_text(encoding="utf-8"))
        if not isinstance(names, dict) or not all(isinstance(v, list) for v in names.values()):
            raise ValueError(f"{NAMES} is not a mapping of article ids to names")
        return cls(SentenceIndex.load(folder, bm25.vocabulary), bm25, {a: tuple(n) for a, n in names.items()})

    def disagreements(self, passages: Sequence[Passage]) -> list[str]:
        """What does not fit the version's passages."""
        problems = self.sentences.disagreements(np.array([p.end - p.start for p in passages], dtype=np.int64))
        if self.sparse.size != len(passages):
            problems.append(f"BM25 index holds {self.sparse.size} passages, the version {len(passages)}")
        if self.sparse.vocabulary is not self.sentences.vocabulary:
            problems.append("BM25 and sentence index disagree on the vocabulary")
        if set(self.names) != {p.article_id for p in passages}:
            problems.append(f"{NAMES} lists other articles than the version's passages")
        return problems
