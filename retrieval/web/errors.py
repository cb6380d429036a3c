"""The errors of the web connector: each names the URL it is about, and says whether a later try may succeed."""

from __future__ import annotations

from retrieval.errors import CiteqaError


class WebError(CiteqaError):
    """One URL that could not be read; `reason` is for a person, `transient` says whether to try again later."""

    transient = False

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class BadURL(WebError):
    """Not an http(s) URL, no host, or an address we refuse to fetch."""


class FetchTimeout(WebError):
    """No answer in time: the request's or the feed's time limit."""

    transient = True


class ConnectionFailed(WebError):
    """The server could not be reached (DNS, refused, reset, TLS)."""

    transient = True


class HTTPStatus(WebError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, reason: str = ""):
        super().__init__(url, reason or f"HTTP {status}")
        self.status = status
        # Server trouble and rate limits pass; 404, 410 and other client errors are the URL's own.
        self.transient = status >= 500 or status in (408, 425, 429)


class TooManyRedirects(WebError):
    """A redirect loop, or more redirects than the limit."""


class TooLarge(WebError):
    """The body is over the size cap (told by Content-Length, or found while streaming)."""


class UnsupportedContent(WebError):
    """The body is not what was asked for: an image or a PDF where a page was expected."""


class NotAFeed(WebError):
    """The body is not RSS or Atom."""


class NoArticleText(WebError):
    """A page without article text: a front page, a paywall stub, an index of links."""
