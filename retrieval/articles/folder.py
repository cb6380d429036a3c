"""Read a folder of articles and find the prose in each: title, date, and the ranges worth citing."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval.articles.prose import BadArticle, find_date, is_boilerplate, prose_sections, text_lines
from retrieval.articles.web_articles import content_hash, fetched_article, page_article
from retrieval.types import Article

__all__ = ["ARTICLE_SUFFIXES", "BadArticle", "Skipped", "find_date", "is_boilerplate", "parse_article",
           "read_article", "read_folder"]

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md")
PAGE_SUFFIXES = (".html", ".htm")  # saved web pages, read for their main text (retrieval.web.pages)
ARTICLE_SUFFIXES = TEXT_SUFFIXES + PAGE_SUFFIXES
# The feed collector's own files in the folder (retrieval.web.feeds, retrieval.web.ledger): never articles.
NOT_ARTICLES = ("feeds.txt", "feeds.ledger.json")
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
    others = _other_sources(root)
    taken: dict[str, str] = {}  # article id -> the file that has it
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in ARTICLE_SUFFIXES or path.name in NOT_ARTICLES:
            continue
        if path.stem in taken:  # story.html beside story.txt: one id, two texts; the first by name is the article
            reason = f"the same article id as {taken[path.stem]}: rename one of them"
            log.warning("skipped %s: %s", path, reason)
            skipped.append(Skipped(str(path), reason))
            continue
        taken[path.stem] = path.name
        try:
            articles.append(read_article(path, root=root, max_bytes=max_bytes, settle_seconds=settle_seconds,
                                         sources=tuple(others.get(path.stem, ()))))
        except BadArticle as bad:
            log.warning("skipped %s: %s", path, bad)
            skipped.append(Skipped(str(path), str(bad)))
    return articles, skipped


def _other_sources(root: Path) -> dict[str, list[str]]:
    """Article id -> the URLs of its wire copies, from the feeds' ledger when the folder has one."""
    if not (root / NOT_ARTICLES[1]).is_file():
        return {}
    from retrieval.web.ledger import other_sources

    return other_sources(root)


def read_article(path: Path, root: Path | None = None, max_bytes: int = MAX_ARTICLE_BYTES,
                 settle_seconds: float = 0.0, sources: tuple[str, ...] = ()) -> Article:
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
    sha256 = content_hash(data, sources)
    if path.suffix.lower() in PAGE_SUFFIXES:  # its own charset (meta, BOM or bytes): the page reader decodes it
        return page_article(path.stem, data, sha256, str(path), sources)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BadArticle(f"not UTF-8 (byte {err.start})") from err
    return parse_article(path.stem, text, sha256=sha256, path=str(path), sources=sources)


def _same_file(*stats: os.stat_result) -> bool:
    """The same inode with the same size and modification time: nothing wrote to it or replaced it meanwhile."""
    return len({(s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns) for s in stats}) == 1


def parse_article(article_id: str, text: str, sha256: str = "", path: str = "",
                  sources: tuple[str, ...] = ()) -> Article:
    """Split raw text into title, prose sections and date. Raises BadArticle when nothing is left.

    A fetched page's file (title, a `URL:` header, a blank line, the body) is read with its header
    (retrieval.articles.web_articles); any other text's title is its first line that is not boilerplate.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sha256 = sha256 or content_hash(text.encode(), sources)
    fetched = fetched_article(article_id, text, sha256, path, sources)
    if fetched is not None:
        return fetched
    title_line = next(((s, e) for s, e in text_lines(text) if text[s:e].strip() and not is_boilerplate(text[s:e])),
                      None)
    if title_line is None:
        raise BadArticle("empty (no text)")
    title = text[title_line[0] : title_line[1]].strip().lstrip("#").strip()
    # A one-line file: its only line is both title and text.
    sections = prose_sections(text, min(title_line[1] + 1, len(text))) or [title_line]
    date, published = find_date(text[title_line[0] :])
    return Article(id=article_id, title=title, text=text, sha256=sha256, sections=tuple(sections), date=date,
                   published=published, path=path, sources=tuple(sources))
