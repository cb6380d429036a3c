"""A polite, bounded HTTP fetcher: one named User-Agent, time and size limits, conditional requests, Retry-After."""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

import httpx

from retrieval.web.errors import (BadURL, ConnectionFailed, FetchTimeout, HTTPStatus, TooLarge, TooManyRedirects,
                                  UnsupportedContent, WebError)

log = logging.getLogger(__name__)

# Who to write to about the bot: operators set their own; sites block anonymous crawlers sooner.
DEFAULT_CONTACT = "https://example.invalid/citeqa-contact"
MAX_BYTES = 5 * 1024 * 1024  # news pages with inline scripts reach 1-2 MB; five is room, not a download
PAGE_TYPES = ("text/html", "application/xhtml+xml")
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
FEED_ACCEPT = "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1"
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said to identify a version of a URL, sent back to ask "changed since?"."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # as asked
    final_url: str  # after redirects
    status: int  # 2xx, or 304 when a conditional request found nothing new
    content: bytes = b""
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def user_agent(contact: str = DEFAULT_CONTACT) -> str:
    try:
        from importlib.metadata import version

        ours = version("citeqa")
    except Exception:  # running from a checkout that was never installed
        ours = "0"
    return f"citeqa/{ours} (news question answering; +{contact})"


def check_url(url: str, allow_private: bool = True) -> httpx.URL:
    """The URL parsed, or BadURL: only http(s) with a host, and no private address unless allowed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as err:
        raise BadURL(str(url), f"not a valid URL ({err})") from err
    if parsed.scheme not in ("http", "https"):
        raise BadURL(url, f"only http and https are fetched, not {parsed.scheme or 'a relative URL'}")
    if not parsed.host:
        raise BadURL(url, "no host")
    if not allow_private and is_private_host(parsed.host):
        raise BadURL(url, "a loopback or private address, refused for a link found in a public feed")
    return parsed


def is_private_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a name: resolving it here would not stop a DNS answer changing later
    return not address.is_global


class Fetcher:
    """GET with limits, shared by every feed of a run; thread-safe. Use as a context manager.

    `validators` (URL -> Validators) is read for conditional requests and updated from answers;
    the caller keeps it between runs.
    """

    def __init__(self, contact: str = DEFAULT_CONTACT, *, timeout: float = 15.0, max_bytes: int = MAX_BYTES,
                 max_redirects: int = 5, max_concurrent: int = 3, max_wait: float = 30.0, retries: int = 2,
                 proxy: str | None = None, validators: dict[str, Validators] | None = None):
        self.timeout, self.max_bytes, self.max_redirects = timeout, max_bytes, max_redirects
        self.max_wait, self.retries = max_wait, retries
        self.validators: dict[str, Validators] = dict(validators or {})
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrent)
        # trust_env=False: the library reads no environment; a proxy is an argument.
        self._client = httpx.Client(headers={"User-Agent": user_agent(contact)}, follow_redirects=False,
                                    trust_env=False, proxy=proxy,
                                    limits=httpx.Limits(max_connections=max_concurrent))

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, *, accept: str = PAGE_ACCEPT, types: tuple[str, ...] | None = None,
            conditional: bool = False, deadline: float | None = None, allow_private: bool = True) -> Fetched:
        """One URL's body, following redirects; `deadline` (time.monotonic()) bounds everything, waits included.

        `types`: the content types to accept (others raise UnsupportedContent before the body is read).
        Raises a WebError subclass naming `url`.
        """
        check_url(url, allow_private)
        own_end = time.monotonic() + self.timeout
        end = own_end if deadline is None else min(deadline, own_end)
        limit = f"{self.timeout:g} s" if end == own_end else "the feed's time limit"
        headers = {"Accept": accept}
        known = self.validators.get(url) if conditional else None
        if known and known.etag:
            headers["If-None-Match"] = known.etag
        if known and known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
        chain = [url]
        waits = 0
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise FetchTimeout(url, f"no complete answer within {limit}")
            status, location, retry_after, fetched = self._one(url, chain[-1], headers, types, end, limit)
            if status in _REDIRECTS and location:
                target = str(httpx.URL(chain[-1]).join(location))
                check_url(target, allow_private)
                if target in chain:
                    raise TooManyRedirects(url, "redirect loop: " + " -> ".join([*chain, target]))
                if len(chain) > self.max_redirects:
                    raise TooManyRedirects(url, f"more than {self.max_redirects} redirects")
                chain.append(target)
                continue
            if status in (429, 503) and waits < self.retries and retry_after is not None \
                    and retry_after <= self.max_wait and time.monotonic() + retry_after < end:
                log.info("%s: HTTP %d, waiting %.1f s as Retry-After asks", url, status, retry_after)
                waits += 1
                time.sleep(retry_after)
                continue
            if status == 304 and known:
                return Fetched(url, chain[-1], 304)
            if status >= 400 or status == 304:
                told = f", Retry-After {retry_after:g} s" if retry_after is not None else ""
                raise HTTPStatus(url, status, f"HTTP {status}{told}" + (f" at {chain[-1]}" if len(chain) > 1 else ""))
            if status >= 300:
                raise HTTPStatus(url, status, f"HTTP {status} without a Location to follow")
            return fetched

    def _one(self, url: str, hop: str, headers: dict, types: tuple[str, ...] | None, end: float,
             limit: str) -> tuple[int, str | None, float | None, Fetched | None]:
        """One request: (status, Location, Retry-After seconds, the body when 2xx)."""
        timeout = httpx.Timeout(max(end - time.monotonic(), 0.001))
        if not self._slots.acquire(timeout=max(end - time.monotonic(), 0)):
            raise FetchTimeout(url, f"waited for a free connection past {limit}")
        try:
            with self._client.stream("GET", hop, headers=headers, timeout=timeout) as response:
                status = response.status_code
                if not 200 <= status < 300:
                    return status, response.headers.get("location"), _retry_after(response), None
                content_type = response.headers.get("content-type", "")
                kind = content_type.split(";")[0].strip().lower()
                if types and kind and kind not in types:
                    raise UnsupportedContent(url, f"content type {kind}, not {' or '.join(types)}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise TooLarge(url, f"{int(declared)} bytes announced, over the {self.max_bytes}-byte cap")
                body = bytearray()
                # Counted after decompression: a small gzip can unpack to gigabytes.
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise TooLarge(url, f"over the {self.max_bytes}-byte cap while reading")
                    if time.monotonic() > end:
                        raise FetchTimeout(url, f"the body was still arriving after {limit}")
                self._remember(url, response.headers)
                return status, None, None, Fetched(url, hop, status, bytes(body), content_type)
        except WebError:
            raise
        except httpx.TimeoutException as err:
            raise FetchTimeout(url, f"no answer within {limit} ({type(err).__name__})") from err
        except httpx.InvalidURL as err:
            raise BadURL(url, f"not a valid URL ({err})") from err
        except (httpx.HTTPError, httpx.StreamError) as err:
            raise ConnectionFailed(url, f"{type(err).__name__}: {err}" if str(err) else type(err).__name__) from err
        finally:
            self._slots.release()

    def _remember(self, url: str, headers: httpx.Headers) -> None:
        etag, modified = headers.get("etag"), headers.get("last-modified")
        if etag or modified:
            with self._lock:
                self.validators[url] = Validators(etag, modified)


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds from now: a number of seconds or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
