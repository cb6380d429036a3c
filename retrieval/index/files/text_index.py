"""What the answers need from a version's text, made once by the build and only read after.

Every passage's sentences with their offsets and term ids (retrieval.index.sentence_table), the BM25 index
with the corpus's one vocabulary and IDF (retrieval.index.bm25), and the names each article writes (what
the speller corrects a question towards). A refresh copies the stored ids of the passages it keeps and
splits only the passages it adds; what cannot be patched, BM25's statistics, is rebuilt from those ids.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from retrieval.index import sentence_table as sentence_index
from retrieval.index import bm25 as sparse
from retrieval.index.sentence_table import SentenceBuilder, SentenceIndex
from retrieval.index.bm25 import EMPTY, SparseIndex, heading_terms
from retrieval.question.spelling import names_in
from retrieval.types import Passage

NAMES = "names.json"  # every name the corpus writes: what a load reads
ARTICLE_NAMES = "article_names.json"  # the names of each article: what a refresh reads, to patch them
FILES = sentence_index.FILES + sparse.FILES + (NAMES, ARTICLE_NAMES)  # in the order they are written


class TextIndex:
    def __init__(self, sentences: SentenceIndex, sparse: SparseIndex, all_names: frozenset[str],
                 names: Mapping[str, Sequence[str]] | Path):
        self.sentences = sentences
        self.sparse = sparse
        self.all_names = all_names  # what the speller corrects towards (see retrieval.question.spelling)
        self._names = names  # article id -> the names it writes, or the file that says, read on first use

    @property
    def names(self) -> Mapping[str, Sequence[str]]:
        if isinstance(self._names, Path):
            names = _reading(ARTICLE_NAMES, lambda: json.loads(self._names.read_text(encoding="utf-8")))
            if not isinstance(names, dict) or not all(isinstance(v, list) for v in names.values()):
                raise ValueError(f"{ARTICLE_NAMES} is not a mapping of article ids to names")
            self._names = names
        return self._names

    @classmethod
    def build(cls, passages: Sequence[Passage], previous: "TextIndex | None" = None,
              previous_positions: Mapping[int, int] | None = None) -> "TextIndex":
        """The text index of `passages`; a passage whose row `previous_positions` maps to a position of
        `previous` is copied from it (its article unchanged), every other one is split and tokenised."""
        builder = SentenceBuilder({EMPTY: 0})
        heading = functools.lru_cache(maxsize=1024)(lambda title, date: builder.number(heading_terms(title, date)))
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
        names = {a: sorted(names_in(texts)) for a, texts in fresh_texts.items()}
        for p in passages:
            if p.article_id not in names:
                names[p.article_id] = previous.names[p.article_id]
        all_names = frozenset(n for article_names in names.values() for n in article_names)
        return cls(sentences, SparseIndex.build(documents, sentences.vocabulary), all_names, names)

    def save(self, folder: Path) -> None:
        self.sentences.save(folder)
        self.sparse.save(folder)
        (Path(folder) / NAMES).write_text(json.dumps(sorted(self.all_names), ensure_ascii=False), encoding="utf-8")
        (Path(folder) / ARTICLE_NAMES).write_text(json.dumps(dict(self.names), ensure_ascii=False), encoding="utf-8")

    def describe(self) -> dict:
        """What the manifest records, so that a load checks the arrays' sizes without reading them."""
        s = self.sentences
        return {"terms": len(s.vocabulary), "sentences": len(s.spans), "term_ids": len(s.term_ids)}

    @classmethod
    def load(cls, folder: Path) -> "TextIndex":
        """Read the files; ValueError names the one that cannot be read."""
        folder = Path(folder)
        bm25 = _reading("bm25/", lambda: SparseIndex.load(folder))
        names = _reading(NAMES, lambda: json.loads((folder / NAMES).read_text(encoding="utf-8")))
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{NAMES} is not a list of names")
        sentences = _reading("the sentence index", lambda: SentenceIndex.load(folder, bm25.vocabulary))
        return cls(sentences, bm25, frozenset(names), folder / ARTICLE_NAMES)

    def disagreements(self, lengths: np.ndarray, recorded: dict) -> list[str]:
        """What does not fit the version's passages (their `lengths` in characters) or the sizes the
        manifest `recorded` (see describe)."""
        held = self.describe()
        for key, file in (("terms", "bm25/vocab.index.json"), ("sentences", "sentence_spans.npy"),
                          ("term_ids", "sentence_terms.npy")):
            if held[key] != recorded.get(key):
                return [f"{file} holds {held[key]} {key.replace('_', ' ')}, manifest says {recorded.get(key)}"]
        problems = self.sentences.disagreements(np.asarray(lengths, dtype=np.int64))
        if self.sparse.size != len(lengths) or self.sparse.terms != len(self.sparse.vocabulary):
            problems.append(f"bm25/ holds {self.sparse.size} passages x {self.sparse.terms} terms, "
                            f"the version {len(lengths)} x {len(self.sparse.vocabulary)}")
        return problems


def _reading(what: str, load):
    try:
        return load()
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise ValueError(f"cannot read {what} ({type(err).__name__}: {err})") from err
