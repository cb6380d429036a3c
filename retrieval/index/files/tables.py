"""A version's articles and passages on disk, read the way a server needs them.

    articles.jsonl       every article whole (text, sections, hash, path), one line each, in id order
    article_lines.npy    where each of those lines starts (and the last one ends), in bytes
    headings.json        [id, title, date, published] of each article, in the same order
    passages.npy         per passage: article number, n, row, start, end, and its text's bytes in
    passage_texts.txt    the passages' texts, one after another (UTF-8)

A server holds every passage (search and answers read them) but reads a whole article only when one is
asked for (`/v1/articles/{id}`, a refresh): at 100,000 passages the articles' text, sections and
hashes would cost more memory than the passages themselves, and parsing them most of a load's time.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from retrieval.index.sentence_table import hand_back
from retrieval.types import Article, Passage

FILES = ("articles.jsonl", "article_lines.npy", "headings.json", "passages.npy", "passage_texts.txt")
_COLUMNS = 7  # article number, n, row, start, end, first byte, end byte
_CHECKED_AT_ONCE = 20_000  # passages


def write(folder: Path, articles: Sequence[Article], passages: Sequence[Passage], flush) -> None:
    """Write the five files; `flush(f)` makes each durable before it is closed."""
    folder = Path(folder)
    lines = [0]
    with open(folder / "articles.jsonl", "wb") as f:
        for a in articles:
            f.write(json.dumps(asdict(a), ensure_ascii=False).encode("utf-8") + b"\n")
            lines.append(f.tell())
        flush(f)
    _save(folder / "article_lines.npy", np.array(lines, dtype=np.int64), flush)
    with open(folder / "headings.json", "w", encoding="utf-8") as f:
        json.dump([[a.id, a.title, a.date, a.published] for a in articles], f, ensure_ascii=False)
        flush(f)
    number = {a.id: k for k, a in enumerate(articles)}
    table = np.zeros((len(passages), _COLUMNS), dtype=np.int64)
    with open(folder / "passage_texts.txt", "wb") as f:
        for i, p in enumerate(passages):
            n = p.id.rpartition("#")[2]
            if p.id != f"{p.article_id}#{n}" or not n.isdigit():
                raise ValueError(f"passage id {p.id!r} is not <article id>#<n>")
            first = f.tell()
            f.write(p.text.encode("utf-8"))
            table[i] = number[p.article_id], int(n), p.row, p.start, p.end, first, f.tell()
        flush(f)
    _save(folder / "passages.npy", table, flush)


def _save(path: Path, array: np.ndarray, flush) -> None:
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
        flush(f)


class ArticleShelf(Mapping[str, Article]):
    """article id -> Article, each read from articles.jsonl when asked for (the last few kept)."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        headings = json.loads((folder / "headings.json").read_text(encoding="utf-8"))
        if not isinstance(headings, list) or not all(isinstance(h, list) and len(h) == 4 for h in headings):
            raise ValueError("headings.json is not a list of [id, title, date, published]")
        same: dict = {}  # many articles share a date: one string for each, not one an article
        self.headings: list[tuple[str, str, str | None, str | None]] = [
            (i, title, same.setdefault(date, date), same.setdefault(published, published))
            for i, title, date, published in headings]
        self.number = {h[0]: k for k, h in enumerate(self.headings)}
        self.lines = np.load(folder / "article_lines.npy", allow_pickle=False)
        self.path = folder / "articles.jsonl"
        # Held open for the version's life: a version pruned while a server still reads it stays readable
        # (as its memory-mapped arrays do), and pread needs no lock between threads.
        self._fd = os.open(self.path, os.O_RDONLY)
        size = os.fstat(self._fd).st_size
        if self.lines.shape != (len(headings) + 1,) or self.lines[0] != 0 or self.lines[-1] != size \
                or np.any(np.diff(self.lines) <= 0):
            raise ValueError(f"article_lines.npy does not fit the {len(headings)} articles of articles.jsonl")
        if len(self.number) != len(self.headings) or list(self.number) != sorted(self.number):
            raise ValueError("headings.json does not list each article once, in id order")
        self._read = functools.lru_cache(maxsize=256)(self._read_article)

    def __getitem__(self, article_id: str) -> Article:
        return self._read(self.number[article_id])

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.number

    def __iter__(self) -> Iterator[str]:
        return iter(self.number)

    def __len__(self) -> int:
        return len(self.headings)

    def _read_article(self, k: int) -> Article:
        start, end = int(self.lines[k]), int(self.lines[k + 1])
        record = json.loads(os.pread(self._fd, end - start, start))
        article = Article(**{**record, "sections": tuple(map(tuple, record["sections"])),
                             "sources": tuple(record.get("sources", ()))})
        if article.id != self.headings[k][0]:
            raise ValueError(f"articles.jsonl line {k + 1} holds {article.id!r}, headings.json {self.headings[k][0]!r}")
        return article

    def hashes(self) -> dict[str, str]:
        """article id -> content hash, reading every article (a refresh's comparison)."""
        data = os.pread(self._fd, int(self.lines[-1]), 0)
        return {r["id"]: r["sha256"] for r in map(json.loads, data.splitlines())}

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


class PassageTable(Sequence[Passage]):
    """Every passage of a version, each made from passages.npy and passage_texts.txt when asked for.

    A server searches all of them but reads a few per question: Python objects for every passage
    (their text, ids and titles) would cost more memory than the text itself, and building them most
    of a load. The texts stay in the memory-mapped file; the table is a few integers a passage.
    """

    def __init__(self, folder: Path, shelf: ArticleShelf):
        folder = Path(folder)
        table = np.load(folder / "passages.npy", allow_pickle=False)
        if table.ndim != 2 or table.shape[1] != _COLUMNS or table.dtype != np.int64:
            raise ValueError(f"passages.npy is {table.shape} {table.dtype}, not passages x {_COLUMNS} int64")
        path = folder / "passage_texts.txt"
        size = path.stat().st_size
        if len(table) and not (table[:, 0].min() >= 0 and table[:, 0].max() < len(shelf)):
            raise ValueError("passages.npy names an article the version lacks")
        if len(table) and (table[0, 5] != 0 or np.any(table[1:, 5] != table[:-1, 6]) or table[-1, 6] != size):
            raise ValueError("passages.npy does not fit the texts of passage_texts.txt")
        if len(table) and (np.any(table[1:, 0] < table[:-1, 0]) or np.any(table[:, 3] > table[:, 4])):
            raise ValueError("passages.npy is not article after article, each passage's start before its end")
        self.table = table
        self.rows = table[:, 2]
        self.headings = shelf.headings
        # Mapped, not read: a question touches the pages of the passages it reads. An empty file cannot be mapped.
        self._texts = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, dtype=np.uint8)
        self._check_lengths()

    def _check_lengths(self) -> None:
        """Each passage's text has its length in characters: its bytes less its UTF-8 continuation bytes
        (10xxxxxx), which are few and found at once. A slice at a time, the slice's pages handed back after."""
        try:
            for first in range(0, len(self.table), _CHECKED_AT_ONCE):
                part = self.table[first:first + _CHECKED_AT_ONCE]
                begin, end = int(part[0, 5]), int(part[-1, 6])
                continuation = np.flatnonzero((self._texts[begin:end] & 0xC0) == 0x80) + begin
                inside = np.searchsorted(continuation, part[:, 6]) - np.searchsorted(continuation, part[:, 5])
                wrong = np.flatnonzero(part[:, 6] - part[:, 5] - inside != part[:, 4] - part[:, 3])
                if len(wrong):
                    k, n = part[wrong[0], 0], part[wrong[0], 1]
                    raise ValueError(f"passage_texts.txt: passage {self.headings[k][0]}#{n} is not "
                                     f"{part[wrong[0], 4] - part[wrong[0], 3]} characters")
        finally:
            hand_back(self._texts)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        k, n, row, start, end, first, last = self.table[i].tolist()
        article_id, title, date, _ = self.headings[k]
        text = self._texts[first:last].tobytes().decode("utf-8")
        if len(text) != end - start:  # the file's checksum held at load, so only a writer's bug gets here
            raise ValueError(f"passage_texts.txt: passage {article_id}#{n} is not {end - start} characters")
        return Passage(f"{article_id}#{n}", row, article_id, title, start, end, text, date)

    def __iter__(self) -> Iterator[Passage]:
        return (self[i] for i in range(len(self)))

    def article_id(self, i: int) -> str:
        """The id of passage i's article, without reading its text."""
        return self.headings[self.table[i, 0]][0]

    def lengths(self) -> np.ndarray:
        """Each passage's length in characters."""
        return self.table[:, 4] - self.table[:, 3]

    def article_numbers(self) -> np.ndarray:
        return self.table[:, 0]

    def text_bytes(self) -> int:
        return len(self._texts)


class RowPositions(Mapping[int, int]):
    """passage row -> its position in the version's passages: two sorted arrays, not a dict of 100,000 ints."""

    def __init__(self, rows: np.ndarray):
        self._order = np.argsort(rows, kind="stable")
        self._rows = np.asarray(rows)[self._order]

    def get(self, row, default=None):
        if not isinstance(row, (int, np.integer)):
            return default
        k = int(np.searchsorted(self._rows, row))
        return int(self._order[k]) if k < len(self._rows) and self._rows[k] == row else default

    def __getitem__(self, row) -> int:
        found = self.get(row)
        if found is None:
            raise KeyError(row)
        return found

    def __contains__(self, row) -> bool:
        return self.get(row) is not None

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows.tolist())

    def __len__(self) -> int:
        return len(self._rows)
