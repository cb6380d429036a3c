"""Read a folder of articles and find the prose in each: title, date, and the ranges worth citing."""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval.types import Article

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt", ".md")
MAX_ARTICLE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


def read_folder(folder: str | os.PathLike, max_bytes: int = MAX_ARTICLE_BYTES,
                settle_seconds: float = 0.0) -> tuple[list[Article], list[Skipped]]:
    """Every usable article in `folder` (not recursive), sorted by id, and the files skipped, with why.

    A bad file never stops the others: it is logged and reported in the second list. So is a file
    that changes or vanishes while it is read, and, with `settle_seconds`, one modified more recently
    than that (a writer may still be at work on it).
    """
    root = Path(folder)
    if not root.is_dir():
        return [], [Skipped(str(root), "not a folder")]
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in ARTICLE_SUFFIXES:
            continue
        try:
            articles.append(read_article(path, root=root, max_bytes=max_bytes, settle_seconds=settle_seconds))
        except BadArticle as bad:
            log.warning("skipped %s: %s", path, bad)
            skipped.append(Skipped(str(path), str(bad)))
    return articles, skipped


class BadArticle(ValueError):
    """One file that cannot be an article; the reason is the message."""


def read_article(path: Path, root: Path | None = None, max_bytes: int = MAX_ARTICLE_BYTES,
                 settle_seconds: float = 0.0) -> Article:
    if path.is_symlink() and root is not None:
        # A link may point anywhere on the machine; only links that stay inside the folder are read.
        target = path.resolve()
        if not target.is_relative_to(root.resolve()):
            raise BadArticle("symbolic link pointing outside the folder")
    try:
        if not path.is_file():
            raise BadArticle("not a regular file" if path.exists() or path.is_symlink() else "vanished while being read")
        before = path.stat()
        if before.st_size > max_bytes:
            raise BadArticle(f"larger than the limit ({before.st_size} > {max_bytes} bytes)")
        age = time.time() - before.st_mtime
        if age < settle_seconds:
            raise BadArticle(f"modified {max(age, 0):.1f} s ago, less than {settle_seconds:g} s: it may still be "
                             "being written; a later refresh reads it")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
            during = os.fstat(f.fileno())
        after = path.stat()
    except FileNotFoundError as err:
        raise BadArticle("vanished while being read") from err
    except OSError as err:
        raise BadArticle(f"unreadable ({err.strerror or err})") from err
    if len(data) > max_bytes:  # grew since stat
        raise BadArticle(f"larger than the limit ({len(data)} > {max_bytes} bytes)")
    if not _same_file(before, during, after) or len(data) != after.st_size:
        raise BadArticle("changed while being read; a later refresh reads it")
    if b"\x00" in data:
        raise BadArticle("binary content (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BadArticle(f"not UTF-8 (byte {err.start})") from err
    return parse_article(path.stem, text, sha256=hashlib.sha256(data).hexdigest(), path=str(path))


def _same_file(*stats: os.stat_result) -> bool:
    """The same inode with the same size and modification time: nothing wrote to it or replaced it meanwhile."""
    return len({(s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns) for s in stats}) == 1


def parse_article(article_id: str, text: str, sha256: str = "", path: str = "") -> Article:
    """Split raw text into title, prose sections and date. Raises BadArticle when nothing is left."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = list(_lines(text))
    title_line = None
    sections: list[tuple[int, int]] = []
    run: list[tuple[int, int]] = []
    for start, end in lines:
        line = text[start:end]
        if not line.strip():
            continue
        if is_boilerplate(line):
            # A boilerplate line ends the current section: no passage may straddle it.
            if run:
                sections.append((run[0][0], run[-1][1]))
                run = []
            continue
        if title_line is None:
            title_line = (start, end)
            continue
        run.append((start, end))
    if run:
        sections.append((run[0][0], run[-1][1]))
    if title_line is None:
        raise BadArticle("empty (no text)")
    title = text[title_line[0] : title_line[1]].strip().lstrip("#").strip()
    if not sections:
        # A one-line file: its only line is both title and text.
        sections = [title_line]
    date, published = find_date(text[title_line[0] :])
    return Article(
        id=article_id, title=title, text=text, sha256=sha256 or hashlib.sha256(text.encode()).hexdigest(),
        sections=tuple(sections), date=date, published=published, path=path,
    )


def _lines(text: str):
    start = 0
    for match in re.finditer(r"\n", text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


# A word that ends a sentence: lower-case letters or digits then one stop (not an ellipsis).
_SENTENCE_END = re.compile(r"[a-z0-9)\"”’][.!?](?![.\w])")
_WORD = re.compile(r"\S+")
_SEPARATORS = re.compile(r"\s[|•·»›]\s")


def is_boilerplate(line: str) -> bool:
    """Scraped-page furniture: long runs of capitalised labels with no sentences, or separator bars.

    Navigation menus, footers and breadcrumb trails have many words and no sentence punctuation;
    article prose has a sentence end every 15-40 words. Short lines (titles, datelines, captions)
    are never judged here.
    """
    words = _WORD.findall(line)
    if len(_SEPARATORS.findall(f" {line} ")) >= 3 and not _SENTENCE_END.search(line):
        return True
    if len(words) < 25:
        return False
    sentence_ends = len(_SENTENCE_END.findall(line))
    capitalised = sum(1 for w in words if w[0].isupper() or not w[0].isalpha())
    return sentence_ends * 60 < len(words) and capitalised >= 0.5 * len(words)


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_MONTH_NUMBER = {m.lower(): i for i, m in enumerate(_MONTHS.split("|"), start=1)}
_FULL_DATE = re.compile(rf"\b({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b")
_DAY_FIRST = re.compile(rf"\b(\d{{1,2}})\s+({_MONTHS})\s+(\d{{4}})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_DAY = re.compile(rf"\b({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*,?\s*\d{{4}})")


def find_date(text: str) -> tuple[str | None, str | None]:
    """The first date the text states, as written, and as ISO when it has a year.

    Full dates win over day-and-month ones anywhere in the text: a dateline beats a passing "April 23".
    """
    for pattern, order in ((_FULL_DATE, "mdy"), (_DAY_FIRST, "dmy"), (_ISO_DATE, "ymd")):
        match = pattern.search(text)
        if match:
            parts = dict(zip(order, match.groups()))
            month = parts["m"]
            month = _MONTH_NUMBER[month.lower()] if not month.isdigit() else int(month)
            try:
                iso = datetime.date(int(parts["y"]), month, int(parts["d"])).isoformat()
            except ValueError:  # "February 31, 2015" is stated, but is no date
                iso = None
            return match.group(0), iso
    match = _MONTH_DAY.search(text)
    if match:
        return match.group(0), None
    return None, None
