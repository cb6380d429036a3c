"""The article file a fetched page becomes: its name, from the URL, and its text: title, source header, body."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

# Header keys in the order they are written; the URL always comes first, so that a header is known by line 2.
HEADER_KEYS = ("URL", "Published", "Author", "Site", "Feed")
_HEADER_LINE = re.compile(r"([A-Z][A-Za-z]*): (\S.*)")
# Query parameters that say who sent the reader, not which page: dropped so one story is one name.
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|mc_cid|mc_eid|ocid|cmpid|icid|_ga|ref_src|ncid)$", re.I)
_SLUG_DROP = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Source:
    """Where an article came from, as its file's header states it."""

    url: str
    published: str | None = None  # ISO date
    author: str | None = None
    site: str | None = None
    feed: str | None = None


def normalize_url(url: str) -> str:
    """The URL with what does not name the page removed: fragment, tracking parameters, default port, case of host."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port if parts.port and (scheme, parts.port) not in (("http", 80), ("https", 443)) else None
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port else ""
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def article_name(url: str) -> str:
    """A stable, readable file stem (the article id) for a page URL: host, slug, and a hash of the whole URL.

    "https://www.theguardian.com/education/2020/jan/20/thousands-of-uk-academics" ->
    "theguardian.com_thousands-of-uk-academics_1f0c3a9e2b". The hash keeps two pages with one slug
    apart; the rest lets a person tell the files apart.
    """
    normal = normalize_url(url)
    parts = urlsplit(normal)
    host = _slug((parts.hostname or "web").removeprefix("www."), keep=".") or "web"
    segments = [s for s in unquote(parts.path).split("/") if s]
    slug = ""
    for segment in reversed(segments):  # the last segment that has words in it: not "index.html", not "123"
        slug = _slug(re.sub(r"\.(s?html?|php|aspx?)$", "", segment, flags=re.I))
        if slug and not slug.isdigit() and slug != "index":
            break
    digest = hashlib.sha1(normal.encode()).hexdigest()[:10]
    return "_".join(p for p in (host[:60], slug[:80].strip("-"), digest) if p)


def _slug(value: str, keep: str = "") -> str:
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    pattern = re.compile(f"[^a-z0-9{re.escape(keep)}]+")
    return pattern.sub("-", ascii_text).strip("-")


def render(title: str, source: Source, text: str) -> str:
    """The file's text: the title line, the header (one "Key: value" a line), a blank line, the body verbatim."""
    values = (source.url, source.published, source.author, source.site, source.feed)
    header = [f"{key}: {_one_line(value)}" for key, value in zip(HEADER_KEYS, values) if value]
    return f"{_one_line(title)}\n" + "\n".join(header) + "\n\n" + text.rstrip("\n") + "\n"


def read_source(text: str) -> tuple[Source | None, int]:
    """The header of an article file's text and the offset where its body starts; (None, 0) when it has none.

    A header is recognised only by "URL: http(s)://..." on the second line, so a hand-written article
    whose second line happens to read "Author: ..." is not taken for one. Unknown keys are kept out of
    the body as well (a later version may add some). `text` has "\\n" line ends.
    """
    lines = text.split("\n")
    if len(lines) < 3 or not re.fullmatch(r"URL: https?://\S+", lines[1].strip()):
        return None, 0
    values: dict[str, str] = {}
    offset = len(lines[0]) + 1
    for line in lines[1:]:
        offset += len(line) + 1
        if not line.strip():
            break
        match = _HEADER_LINE.fullmatch(line.strip())
        if match is None:  # the header ended without its blank line: this line is already the body
            offset -= len(line) + 1
            break
        values.setdefault(match.group(1), match.group(2).strip())
    offset = min(offset, len(text))
    return Source(url=values["URL"], published=values.get("Published"), author=values.get("Author"),
                  site=values.get("Site"), feed=values.get("Feed")), offset


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def write_atomically(path: Path, text: str) -> None:
    """Write a hidden temporary file, then rename it into place: a reader sees the old file or the new one.

    The folder reader skips dot files, so it never sees half an article. Not mkstemp: its files are
    private (0600), and an article or ledger is for the people who read the folder (the umask decides).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
