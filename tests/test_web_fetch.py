"""The fetcher against a real server on 127.0.0.1: politeness, limits, and each failure named by URL."""

from __future__ import annotations

import threading
import time

import pytest
from web_site import Answer, Site

from retrieval.web.errors import (BadURL, FetchTimeout, HTTPStatus, TooLarge, TooManyRedirects, UnsupportedContent,
                                  WebError)
from retrieval.web.fetch import PAGE_TYPES, Fetcher

BODY = b"<html><body><p>news</p></body></html>"


@pytest.fixture
def site():
    with Site() as site:
        yield site


def test_user_agent_names_citeqa_and_its_contact(site):
    url = site.add("/a", Answer(BODY))
    with Fetcher("mailto:newsroom@example.org") as fetcher:
        fetched = fetcher.get(url)
    assert fetched.content == BODY and fetched.status == 200
    agent = site.requests[0][1]["user-agent"]
    assert agent.startswith("citeqa/") and "mailto:newsroom@example.org" in agent


def test_conditional_requests_with_etag_and_last_modified(site):
    tagged = site.add("/feed", Answer(BODY, etag='"v1"'))
    dated = site.add("/dated", lambda n, h: Answer(status=304) if h.get("if-modified-since") else
                     Answer(BODY, headers={"Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    with Fetcher() as fetcher:
        assert not fetcher.get(tagged, conditional=True).not_modified
        assert fetcher.get(tagged, conditional=True).not_modified
        assert fetcher.validators[tagged].etag == '"v1"'
        assert fetcher.get(dated, conditional=True).status == 200
        assert fetcher.get(dated, conditional=True).not_modified
    assert site.requests[1][1]["if-none-match"] == '"v1"'
    assert site.requests[3][1]["if-modified-since"] == "Wed, 21 Oct 2015 07:28:00 GMT"


def test_redirects_followed_within_the_limit(site):
    site.add("/old", Answer(status=301, headers={"Location": "/middle"}))
    site.add("/middle", Answer(status=302, headers={"Location": site.url("/new")}))
    site.add("/new", Answer(BODY))
    with Fetcher(max_redirects=2) as fetcher:
        fetched = fetcher.get(site.url("/old"))
        assert fetched.final_url == site.url("/new") and fetched.content == BODY
    with Fetcher(max_redirects=1) as fetcher, pytest.raises(TooManyRedirects, match=r"/old: more than 1 redirects"):
        fetcher.get(site.url("/old"))


def test_redirect_loop_is_named(site):
    site.add("/ping", Answer(status=302, headers={"Location": "/pong"}))
    site.add("/pong", Answer(status=302, headers={"Location": "/ping"}))
    with Fetcher() as fetcher, pytest.raises(TooManyRedirects, match="redirect loop") as caught:
        fetcher.get(site.url("/ping"))
    assert caught.value.url == site.url("/ping") and site.url("/ping") in str(caught.value)
    assert site.hits("/ping") == 1 and site.hits("/pong") == 1


def test_size_cap_announced_and_while_streaming(site):
    big = b"<p>" + b"x" * 50_000 + b"</p>"
    announced = site.add("/announced", Answer(big))
    streamed = site.add("/streamed", Answer(big, chunked=True))
    with Fetcher(max_bytes=10_000) as fetcher:
        with pytest.raises(TooLarge, match="announced"):
            fetcher.get(announced)
        with pytest.raises(TooLarge, match="while reading") as caught:
            fetcher.get(streamed)
    assert caught.value.url == streamed


def test_a_server_that_never_answers_times_out(site):
    url = site.add("/hang", Answer(hang=True))
    started = time.monotonic()
    with Fetcher(timeout=0.5) as fetcher, pytest.raises(FetchTimeout, match="/hang") as caught:
        fetcher.get(url)
    assert time.monotonic() - started < 3 and caught.value.transient


def test_retry_after_is_honoured_and_bounded(site):
    url = site.add("/busy", lambda n, h: Answer(status=503, headers={"Retry-After": "1"}) if n == 1 else Answer(BODY))
    started = time.monotonic()
    with Fetcher() as fetcher:
        assert fetcher.get(url).content == BODY
    assert time.monotonic() - started >= 0.9 and site.hits("/busy") == 2
    slow = site.add("/slow-down", Answer(status=429, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    with Fetcher(max_wait=30) as fetcher, pytest.raises(HTTPStatus, match="HTTP 429, Retry-After 3600 s") as caught:
        fetcher.get(slow)
    assert time.monotonic() - started < 1 and caught.value.transient and site.hits("/slow-down") == 1


def test_error_statuses(site):
    gone = site.add("/gone", Answer(b"", status=404))
    broken = site.add("/broken", Answer(b"", status=500))
    with Fetcher() as fetcher:
        with pytest.raises(HTTPStatus, match="/gone: HTTP 404") as caught:
            fetcher.get(gone)
        assert caught.value.status == 404 and not caught.value.transient
        with pytest.raises(HTTPStatus) as caught:
            fetcher.get(broken)
        assert caught.value.transient


def test_only_http_and_https(site):
    with Fetcher() as fetcher:
        for url in ("ftp://127.0.0.1/file", "file:///etc/passwd", "javascript:alert(1)", "/relative/path"):
            with pytest.raises(BadURL) as caught:
                fetcher.get(url)
            assert url in str(caught.value)
        with pytest.raises(BadURL, match="private"):
            fetcher.get(site.url("/a"), allow_private=False)
        site.add("/to-file", Answer(status=302, headers={"Location": "file:///etc/passwd"}))
        with pytest.raises(BadURL):
            fetcher.get(site.url("/to-file"))


def test_unsupported_content_type_is_refused_before_the_body(site):
    url = site.add("/report.pdf", Answer(b"%PDF-1.7", content_type="application/pdf"))
    with Fetcher() as fetcher, pytest.raises(UnsupportedContent, match="application/pdf"):
        fetcher.get(url, types=PAGE_TYPES)


def test_at_most_a_few_fetches_at_once(site):
    url = site.add("/slow", Answer(BODY, delay=0.15))
    with Fetcher(max_concurrent=2) as fetcher:
        threads = [threading.Thread(target=fetcher.get, args=(url,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert site.hits("/slow") == 6 and site.most_in_flight == 2


def test_connection_refused_is_a_web_error():
    with Site() as gone:
        url = gone.url("/x")
    with Fetcher(timeout=2) as fetcher, pytest.raises(WebError, match="/x") as caught:
        fetcher.get(url)
    assert caught.value.transient
