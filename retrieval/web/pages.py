"""A web page's bytes -> its main text, title, date, author and canonical URL (trafilatura)."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from retrieval.web.charset import decode_html
from retrieval.web.errors import NoArticleText

log = logging.getLogger(__name__)

PAGE_SUFFIXES = (".html", ".htm")
# A news brief runs to a few hundred characters; less is a stub (a paywall teaser, a page of links).
MIN_TEXT_CHARS = 200
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Control characters other than tab and newline: a NUL would make the written file "binary" to the folder reader.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ")


@dataclass(frozen=True, slots=True)
class WebPage:
    """What a page says about itself. `text` is final: citations index into it as it is here."""

    text: str  # paragraphs one a line, "\n" line ends, no title line
    title: str
    published: str | None = None  # ISO date (YYYY-MM-DD) stated by the page
    author: str | None = None
    url: str | None = None  # the page's canonical URL, else the URL it was fetched from
    site: str | None = None
    encoding: str = "utf-8"  # the codec its bytes were read with


def extract_page(data: bytes | str, url: str | None = None, content_type: str | None = None,
                 min_chars: int = MIN_TEXT_CHARS) -> WebPage:
    """The main text and metadata of one page; raises NoArticleText when it holds no article.

    `url` is where it came from (a fallback for the canonical URL, and the name in errors);
    `content_type` is the HTTP header, whose charset is used when the page gives none of its own.
    """
    from trafilatura import bare_extraction  # a second or so of imports: only when a page is read

    if isinstance(data, bytes):
        html, encoding = decode_html(data, content_type)
    else:
        html, encoding = data, "utf-8"
    # lxml refuses a str that still carries an encoding declaration; trafilatura would then re-encode
    # the text as UTF-8 and let lxml re-read it under the old declaration, garbling a GB2312 page.
    html = _XML_DECLARATION.sub("", html, count=1)
    where = url or "page"
    try:
        found = bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=True,
            include_images=False, include_links=False, include_formatting=False, deduplicate=False,
            # Dates from the page's metadata and markup only: a date found in free text is as likely
            # an event's as the article's, and the feed's own date is the better fallback.
            date_extraction_params={"extensive_search": False, "original_date": True,
                                    "outputformat": "%Y-%m-%d", "url": url},
        )
    except (ValueError, TypeError) as err:  # lxml on something that is not HTML at all
        raise NoArticleText(where, f"not readable as HTML ({err})") from err
    text = clean_text(found.text or "") if found is not None else ""
    if len(text) < min_chars:
        raise NoArticleText(where, f"no article text found ({len(text)} characters, fewer than {min_chars})")
    site = _one_line(found.sitename or "") or None
    title = _trim_site(_one_line(found.title or ""), site, found.hostname) or _first_line(text)
    return WebPage(text=text, title=title, published=found.date or None,
                   author=_one_line(found.author or "") or None, url=found.url or url, site=site,
                   encoding=encoding)


def clean_text(text: str) -> str:
    """Line ends to "\\n", control characters dropped, runs of spaces made one, empty lines dropped.

    NFC so that the same words compare equal whichever way a site composed its accents.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _one_line(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0][:200]


def _trim_site(title: str, site: str | None, hostname: str | None) -> str:
    """"Meta Outage Hits Facebook | Kulu Media" -> "Meta Outage Hits Facebook": the site is not the story."""
    names = {n.lower() for n in (site, hostname, (hostname or "").removeprefix("www.")) if n}
    for sep in _TITLE_SEPARATORS:
        head, found, tail = title.rpartition(sep)
        if found and head and tail.strip().lower() in names:
            return head.strip()
    return title
