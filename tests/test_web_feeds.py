"""Feeds in, article files out: RSS and Atom on 127.0.0.1 linking to real saved pages and made ones, then the faults."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from web_site import PAGES, PARAGRAPHS, SAVED, Answer, Site, article_html, atom, rss

from retrieval.web.article_file import article_name, read_source
from retrieval.web.collect import collect
from retrieval.web.errors import NotAFeed
from retrieval.web.feeds import parse_feed, parse_feed_list
from retrieval.web.ledger import LEDGER_FILE, other_sources

HAND_MADE = "Harbour Bridge Opens\n\nOn March 3, 2021, the mayor of Port Alba opened the new harbour bridge.\n"
ORCHARD = ["Farmers in the Vale district picked 12,000 tonnes of apples this autumn, the largest harvest since 1998, "
           "the cooperative said on Tuesday.",
           "The cooperative's chair, Maria Sousa, said that the dry summer had helped the fruit ripen early and that "
           "prices at the market had fallen by a fifth.",
           "Cider makers in the valley expect to press twice as much juice as last year, she added."]
LIBRARY = ["The central library of Port Alba will open on Sundays from May, the council said on Monday after a vote.",
           "The librarian, Tomas Reis, said that 900 readers had signed a petition asking for weekend hours at the "
           "library, and that volunteers would staff the reading room."]
MENU = ("World news", "Business pages", "Weather today", "Podcasts and video")


def saved(name: str) -> Answer:
    return Answer((PAGES / f"{name}.html").read_bytes())


def made(title: str, paragraphs: list[str], **meta) -> Answer:
    return Answer(article_html(title, paragraphs, menu=MENU, **meta).encode())


def body_of(folder: Path, url: str) -> tuple[str, str]:
    """(title line, header and body) of the article file an entry's URL became."""
    text = (folder / f"{article_name(url)}.txt").read_text(encoding="utf-8")
    return text.split("\n", 1)[0], text


@pytest.fixture
def site():
    with Site() as site:
        yield site


def test_rss_and_atom_collected_then_only_new_entries_fetched(site, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "bridge.txt").write_text(HAND_MADE, encoding="utf-8")
    pages = {"/guardian": "theguardian.com.academics", "/verge": "theverge.com.ios13", "/vice": "vice.com.amazon",
             "/salon": "salon.com.emissions", "/kulu": "kulu-media.com.meta-outage"}
    for path, name in pages.items():
        site.add(path, saved(name))
    site.add("/cafe", made("Harbour café to close", PARAGRAPHS, date="2024-03-05", author="Ana Reis"))
    site.add("/orchard", made("Apple harvest breaks record", ORCHARD))
    rss_items = [("Academics", "/guardian", "2020-01-20"), ("FaceTime", "/verge", None), ("Amazon", "/vice", None),
                 ("Harbour café to close", "/cafe", "2024-03-06")]
    site.add("/rss.xml", rss(site, rss_items))
    site.add("/atom.xml", atom(site, [("Emissions", "/salon", None), ("Outage", "/kulu", None),
                                      ("Apple harvest breaks record", "/orchard", "2024-09-30"),
                                      ("Academics again", "/guardian", None)], etag='"a1"'))
    (folder / "feeds.txt").write_text(f"# our feeds\n{site.url('/rss.xml')}\n\n{site.url('/atom.xml')}  # Atom\n")
    events = []

    report = collect(folder, pause=0, contact="mailto:test@example.org", progress=events.append)

    assert not report.failed_feeds and not report.bad_lines
    by_feed = {r.feed: r for r in report.feeds}
    rss_report, atom_report = by_feed[site.url("/rss.xml")], by_feed[site.url("/atom.xml")]
    assert (rss_report.seen, atom_report.seen, rss_report.new + atom_report.new) == (4, 4, 7)  # the guardian: one
    assert rss_report.line == 2 and atom_report.line == 4
    assert len(report.written) == 7 and site.hits("/guardian") == 1  # one page, listed by both feeds
    assert [d.url for r in report.feeds for d in r.duplicates] == [site.url("/guardian")]
    assert not any(r.failed for r in report.feeds)
    for path, name in pages.items():
        expected = SAVED[name]
        title, text = body_of(folder, site.url(path))
        source, start = read_source(text)
        assert title == expected["title"]
        assert (source.url, source.published, source.author) == (expected["url"], expected["published"], expected["author"])
        assert all(s in text[start:] for s in expected["sentences"])
        assert not any(m.lower() in text.lower() for m in expected["menu"])
    title, text = body_of(folder, site.url("/cafe"))
    source, start = read_source(text)
    assert title == "Harbour café to close" and source.published == "2024-03-05"  # the page's date before the feed's
    assert text[start:].startswith("Harbour café to close\nThe café on the quay") and "World news" not in text
    source, _ = read_source(body_of(folder, site.url("/orchard"))[1])
    assert source.published == "2024-09-30" and source.url == site.url("/orchard")  # no date on the page: the feed's
    assert source.feed == site.url("/atom.xml")
    assert "mailto:test@example.org" in site.requests[0][1]["user-agent"]
    assert {(e.feed, e.stage) for e in events} >= {(f, s) for f in by_feed for s in ("feed", "page", "done")}
    assert (folder / "bridge.txt").read_text(encoding="utf-8") == HAND_MADE

    # A person deletes one article; the RSS feed gains one entry. The next run fetches that entry only.
    (folder / f"{article_name(site.url('/verge'))}.txt").unlink()
    site.add("/rss.xml", rss(site, [("Orchard again", "/orchard", None), ("Library hours", "/library", "2024-05-01"),
                                    *rss_items]))
    site.add("/library", made("Library opens on Sundays", LIBRARY))
    before = {path: site.hits(path) for path in [*pages, "/cafe", "/orchard"]}

    again = collect(folder, pause=0)

    assert {path: site.hits(path) for path in before} == before and site.hits("/library") == 1
    assert again.written == (article_name(site.url("/library")),)
    by_feed = {r.feed: r for r in again.feeds}
    assert by_feed[site.url("/atom.xml")].not_modified  # its ETag came back: 304
    assert by_feed[site.url("/rss.xml")].new == 1 and len(by_feed[site.url("/rss.xml")].duplicates) == 1  # the orchard
    assert not (folder / f"{article_name(site.url('/verge'))}.txt").exists()  # deleted stays deleted
    ledger = json.loads((folder / LEDGER_FILE).read_text(encoding="utf-8"))
    assert ledger["feeds"][site.url("/atom.xml")]["etag"] == '"a1"'


def test_faults_reported_by_url_and_the_rest_collected(site, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "bridge.txt").write_text(HAND_MADE, encoding="utf-8")
    site.add("/ok", made("Apple harvest breaks record", ORCHARD, date="2024-09-30"))
    site.add("/big", Answer(article_html("Huge", PARAGRAPHS * 1000).encode(), chunked=True))
    site.add("/ping", Answer(status=302, headers={"Location": "/pong"}))
    site.add("/pong", Answer(status=302, headers={"Location": "/ping"}))
    site.add("/cp1252", Answer(article_html("Harbour café to close", PARAGRAPHS, charset="windows-1252").encode("cp1252"),
                               content_type="text/html"))
    chinese = ["国家知识产权局今天在北京发布了年度报告，报告显示全年发明专利授权量继续增长。" * 3,
               "局长表示，明年将进一步加强知识产权保护，优化营商环境，商标注册数量也创下新高。" * 3]
    site.add("/gb2312", Answer(article_html("知识产权年度报告发布", chinese, charset="gb2312")
                               .encode("gb2312", errors="xmlcharrefreplace"), content_type="text/html"))
    site.add("/empty", made("Front page", []))
    site.add("/flaky", lambda n, h: Answer(b"busy", status=500) if n == 1 else made("Library opens", LIBRARY))
    entries = [("Orchard", "/ok", None), ("Huge", "/big", None), ("Loop", "/ping", None), ("Café", "/cp1252", None),
               ("Report", "/gb2312", None), ("Front", "/empty", None), ("FTP", "ftp://127.0.0.1/story", None),
               ("Gone", "/missing", None), ("Flaky", "/flaky", None)]
    site.add("/rss.xml", rss(site, entries))
    site.add("/hang.xml", Answer(hang=True))
    site.add("/html.xml", made("Not a feed", PARAGRAPHS))
    feeds = [site.url(p) for p in ("/rss.xml", "/gone.xml", "/hang.xml", "/html.xml")]
    (folder / "feeds.txt").write_text("\n".join([*feeds, "ftp://127.0.0.1/feed", "not a url"]) + "\n")

    started = time.monotonic()
    report = collect(folder, request_timeout=1.0, max_bytes=200_000, pause=0, max_concurrent=4)
    assert time.monotonic() - started < 6

    assert [(b.line, b.reason) for b in report.bad_lines] == [
        (5, "only http and https are fetched, not ftp"), (6, "one URL a line, without spaces")]
    by_feed = {r.feed: r for r in report.feeds}
    assert "HTTP 404" in by_feed[feeds[1]].error and feeds[1] in by_feed[feeds[1]].error
    assert "no answer within 1 s" in by_feed[feeds[2]].error and feeds[2] in by_feed[feeds[2]].error
    assert "not RSS or Atom" in by_feed[feeds[3]].error and feeds[3] in by_feed[feeds[3]].error
    news = by_feed[feeds[0]]
    reasons = {f.url: f.reason for f in news.failed}
    assert set(reasons) == {site.url(p) for p in ("/big", "/ping", "/empty", "/missing", "/flaky")} | {
        "ftp://127.0.0.1/story"}
    assert "over the 200000-byte cap" in reasons[site.url("/big")]
    assert "redirect loop" in reasons[site.url("/ping")]
    assert "no article text" in reasons[site.url("/empty")]
    assert "only http and https" in reasons["ftp://127.0.0.1/story"]
    assert "HTTP 404" in reasons[site.url("/missing")] and "HTTP 500" in reasons[site.url("/flaky")]
    assert {f.url for f in news.failed if f.transient} == {site.url("/flaky")}
    assert sorted(news.written) == sorted(article_name(site.url(p)) for p in ("/ok", "/cp1252", "/gb2312"))
    assert "“naïve”: the café’s crème brûlée sold for €5" in body_of(folder, site.url("/cp1252"))[1]
    assert body_of(folder, site.url("/gb2312"))[0] == "知识产权年度报告发布"
    assert chinese[0][:30] in body_of(folder, site.url("/gb2312"))[1]
    assert (folder / "bridge.txt").read_text(encoding="utf-8") == HAND_MADE
    lines = "\n".join(report.lines())
    assert site.url("/ping") in lines and feeds[2] in lines and "feeds.txt line 6" in lines

    # The next run tries only what may pass (the 500), and loses nothing it had.
    written = {p: p.read_bytes() for p in folder.glob("*.txt")}
    hits = {p: site.hits(p) for p in ("/ok", "/big", "/ping", "/empty", "/cp1252", "/gb2312")}
    again = collect(folder, request_timeout=0.5, max_bytes=200_000, pause=0, max_concurrent=4)
    assert {p: site.hits(p) for p in hits} == hits
    assert again.written == (article_name(site.url("/flaky")),)
    assert {p: p.read_bytes() for p in written} == written


def test_wire_copy_kept_once_with_its_other_source(site, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    site.add("/story", made("Apple harvest breaks record", ORCHARD, date="2024-09-30"))
    site.add("/syndicated", Answer(article_html("Vale apples: record harvest", [
        "VALE (Wire) - " + ORCHARD[0], *ORCHARD[1:], "This story first appeared in the Vale Courier."],
        menu=("Home", "Regional", "Farming")).encode()))
    site.add("/rss.xml", rss(site, [("Harvest", "/story", None)]))
    site.add("/atom.xml", atom(site, [("Harvest (wire)", "/syndicated", None)]))
    (folder / "feeds.txt").write_text(f"{site.url('/rss.xml')}\n{site.url('/atom.xml')}\n")

    report = collect(folder, pause=0)

    assert len(report.written) == 1
    (copy,) = [d for r in report.feeds for d in r.duplicates]
    assert copy.of == report.written[0] and copy.similarity >= 0.5
    assert other_sources(folder) == {report.written[0]: [copy.url]}
    assert len(list(folder.glob("*.txt"))) == 2  # feeds.txt and the one article


def test_unreadable_ledger_is_set_aside_and_files_are_never_overwritten(site, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    site.add("/story", made("Apple harvest breaks record", ORCHARD))
    site.add("/rss.xml", rss(site, [("Harvest", "/story", None)]))
    (folder / "feeds.txt").write_text(site.url("/rss.xml") + "\n")
    collect(folder, pause=0)
    article = folder / f"{article_name(site.url('/story'))}.txt"
    article.write_text(article.read_text(encoding="utf-8") + "A person's note.\n", encoding="utf-8")
    (folder / LEDGER_FILE).write_text("{ not json", encoding="utf-8")

    report = collect(folder, pause=0)

    assert report.notes and "unreadable" in report.notes[0]
    assert article.read_text(encoding="utf-8").endswith("A person's note.\n")
    assert list(folder.glob(f"{LEDGER_FILE}.unreadable-*"))
    assert json.loads((folder / LEDGER_FILE).read_text(encoding="utf-8"))["format"] == 1
    (entry,) = json.loads((folder / LEDGER_FILE).read_text(encoding="utf-8"))["entries"].values()
    assert entry["status"] == "written" and entry["article"] == article.stem  # its own file, not a copy of itself


def test_feed_list_lines():
    feeds, bad = parse_feed_list("\ufeff# comment\nhttps://a.example/rss\n\n  http://b.example/feed.xml # B\n"
                                 "https://a.example/rss\nmailto:x@example.org\nhttps://c.example/a b\n"
                                 "https://d.example/feed#atom\n")
    assert [(f.url, f.line) for f in feeds] == [("https://a.example/rss", 2), ("http://b.example/feed.xml", 4),
                                                ("https://d.example/feed#atom", 8)]
    assert [(b.line, b.reason) for b in bad] == [(5, "already listed on line 2"),
                                                 (6, "only http and https are fetched, not mailto"),
                                                 (7, "one URL a line, without spaces")]


def test_parse_rss_atom_and_refuse_what_is_not_a_feed():
    with Site() as site:
        items = parse_feed(rss(site, [("A & B", "/a", "2024-03-06"), ("C", "https://x.example/c", None)]).body,
                           site.url("/rss.xml"))
        entries = parse_feed(atom(site, [("D", "/d", "2024-04-01")]).body, site.url("/atom.xml"))
    assert [(i.title, i.link, i.published) for i in items] == [("A & B", site.url("/a"), "2024-03-06"),
                                                               ("C", "https://x.example/c", None)]
    assert [(e.title, e.link, e.published) for e in entries] == [("D", site.url("/d"), "2024-04-01")]
    with pytest.raises(NotAFeed, match="http://x.example/feed"):
        parse_feed(article_html("Page", PARAGRAPHS).encode(), "http://x.example/feed")
    with pytest.raises(NotAFeed):
        parse_feed(b'{"error": "rate limited"}', "http://x.example/feed")


def test_feed_time_limit_leaves_the_rest_for_the_next_run(site, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for n, name in enumerate(SAVED):  # four different stories, each slow to come
        site.add(f"/slow{n}", Answer((PAGES / f"{name}.html").read_bytes(), delay=0.3))
    site.add("/rss.xml", rss(site, [(f"Story {n}", f"/slow{n}", None) for n in range(4)]))
    (folder / "feeds.txt").write_text(site.url("/rss.xml") + "\n")

    started = time.monotonic()
    report = collect(folder, feed_timeout=0.8, pause=0)
    (feed,) = report.feeds

    assert time.monotonic() - started < 2
    assert feed.failed and all(f.transient for f in feed.failed)
    assert len(feed.written) + len(feed.failed) == 4 and feed.written
    assert all("the feed's time limit" in f.reason for f in feed.failed)
    again = collect(folder, feed_timeout=10, pause=0)
    assert sorted(report.written + again.written) == sorted(article_name(site.url(f"/slow{n}")) for n in range(4))
    assert again.feeds[0].retried == len(feed.failed)
