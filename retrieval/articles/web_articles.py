"""Articles that came from the web: a saved page (.html) read for its main text, and a fetched page's article file.

A saved page's Article text is the text extracted from it (retrieval.web.pages), so every offset points
into that text; an article file written by the feed collector starts with a title line and a source header
(retrieval.web.article_file), which is never part of a section, so it is never cited.
"""

from __future__ import annotations

import datetime
import hashlib
import logging

from retrieval.articles.prose import BadArticle, find_date, prose_sections
from retrieval.types import Article
from retrieval.web.article_file import read_source
from retrieval.web.errors import WebError
from retrieval.web.pages import extract_page

log = logging.getLogger(__name__)


def content_hash(data: bytes, sources: tuple[str, ...] = ()) -> str:
    """The hash a refresh compares: the file's bytes, and the other sources of the story when it has some.

    A wire copy found later (the ledger names one more source) changes the article's record but not its
    file; counting the sources makes the refresh store the new record (one article re-split, cheaply)."""
    digest = hashlib.sha256(data)
    if sources:
        digest.update(b"\x00sources\x00" + "\n".join(sources).encode("utf-8"))
    return digest.hexdigest()


def iso_date(value: str | None) -> str | None:
    """`value` when it is a real ISO date (YYYY-MM-DD), else None: a header a person edited is not trusted blindly."""
    try:
        return datetime.date.fromisoformat(value).isoformat() if value and len(value) == 10 else None
    except ValueError:
        return None


def page_article(article_id: str, data: bytes, sha256: str, path: str = "",
                 sources: tuple[str, ...] = ()) -> Article:
    """A saved web page's main text as an Article; BadArticle when it holds no article text or is no HTML."""
    try:
        page = extract_page(data)
    except WebError as err:  # no article text, or not HTML at all
        raise BadArticle(err.reason) from err
    except Exception as err:  # lxml or trafilatura on bytes they cannot take: this file's trouble only
        log.debug("extracting %s failed", path, exc_info=True)
        raise BadArticle(f"not readable as a web page ({type(err).__name__}: {err})") from err
    sections = prose_sections(page.text, 0)
    if not sections:
        raise BadArticle("no article text in the page (only menus and the like)")
    published = iso_date(page.published)
    date = published
    if published is None:
        date, published = find_date(page.text)
    url = page.url if page.url and page.url.startswith(("http://", "https://")) else None
    return Article(id=article_id, title=page.title, text=page.text, sha256=sha256, sections=tuple(sections),
                   date=date, published=published, path=path, url=url, author=page.author, site=page.site,
                   sources=tuple(s for s in sources if s != url))


def fetched_article(article_id: str, text: str, sha256: str, path: str = "",
                    sources: tuple[str, ...] = ()) -> Article | None:
    """An article file with a source header (title line, `URL:` ... , blank line, body) as an Article; None
    when the text has no such header. Sections start at the body, so the header is never cited."""
    source, body = read_source(text)
    if source is None:
        return None
    title = text.split("\n", 1)[0].strip()
    if not title:
        raise BadArticle("no title on the first line above its source header")
    sections = prose_sections(text, body)
    if not sections:
        raise BadArticle("no text after its source header")
    published = iso_date(source.published)
    date = published
    if published is None:
        date, published = find_date(text[body:])
    return Article(id=article_id, title=title, text=text, sha256=sha256, sections=tuple(sections), date=date,
                   published=published, path=path, url=source.url, author=source.author, site=source.site,
                   sources=tuple(s for s in sources if s != source.url))
