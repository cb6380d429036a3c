"""Web sources in the folder reader and on the way out: saved pages, fetched article files, their sources in
answers (HTTP, terminal, Telegram), and the bad input each of these entry points may meet."""

from __future__ import annotations

import json

import pytest
from botapi import _checked_text
from fastapi.testclient import TestClient
from web_site import PAGES, PARAGRAPHS, SAVED, article_html

from bot.render import plain_text, safe_link, telegram_html
from retrieval.articles.folder import read_folder
from retrieval.articles.passages import split_passages
from retrieval.types import Answer, Citation
from retrieval.web.article_file import Source, render
from retrieval.web.ledger import LEDGER_FILE

URL = "https://news.example.org/2024/03/05/harbour-cafe-to-close"
COPY = "https://wire.example.com/story/harbour-cafe"


def fetched_file(title: str = "Harbour café to close", published: str | None = "2024-03-05") -> str:
    return render(title, Source(URL, published, "Ana Reis", "Port Alba Times", "https://news.example.org/rss"),
                  "\n".join(PARAGRAPHS))


def test_a_saved_page_is_its_main_text_with_exact_offsets_and_no_menu(tmp_path):
    name = "theguardian.com.academics"
    (tmp_path / f"{name}.html").write_bytes((PAGES / f"{name}.html").read_bytes())
    [article], skipped = read_folder(tmp_path)
    gold = SAVED[name]
    assert skipped == [] and article.id == name
    assert (article.title, article.published, article.url, article.author) == \
        (gold["title"], gold["published"], gold["url"], gold["author"])
    assert all(s in article.text for s in gold["sentences"])
    assert not any(m in article.text for m in gold["menu"])  # the page's menus and footers are not the article
    for p in split_passages(article):
        assert article.text[p.start:p.end] == p.text  # offsets into the extracted text, which is the Article's


def test_a_fetched_article_file_keeps_its_header_out_of_every_passage(tmp_path):
    (tmp_path / "cafe.txt").write_text(fetched_file(), encoding="utf-8")
    [article], _ = read_folder(tmp_path)
    assert (article.title, article.url, article.published, article.author, article.site) == \
        ("Harbour café to close", URL, "2024-03-05", "Ana Reis", "Port Alba Times")
    body = article.text.index(PARAGRAPHS[0])
    assert article.sections[0][0] == body
    assert all(p.start >= body and "URL:" not in p.text for p in split_passages(article))


def test_a_header_without_a_date_takes_the_date_the_text_states(tmp_path):
    text = render("Bridge opens", Source(URL), "On March 3, 2021, the mayor of Port Alba opened the new bridge.")
    (tmp_path / "bridge.txt").write_text(text, encoding="utf-8")
    [article], _ = read_folder(tmp_path)
    assert article.published == "2021-03-03" and article.url == URL


def test_the_ledgers_wire_copies_are_the_articles_other_sources_and_change_its_hash(tmp_path):
    (tmp_path / "cafe.txt").write_text(fetched_file(), encoding="utf-8")
    [before], _ = read_folder(tmp_path)
    ledger = {"format": 1, "feeds": {}, "entries": {
        COPY: {"status": "duplicate", "duplicate_of": "cafe", "url": COPY, "feeds": ["https://wire.example.com/atom"]},
        URL: {"status": "written", "article": "cafe", "url": URL, "feeds": ["https://news.example.org/rss"]}}}
    (tmp_path / LEDGER_FILE).write_text(json.dumps(ledger), encoding="utf-8")
    [after], skipped = read_folder(tmp_path)
    assert skipped == [] and after.sources == (COPY,)
    # A copy found later changes the record, not the file: the new hash makes a refresh store the new record.
    assert after.sha256 != before.sha256 and after.text == before.text


def test_the_collectors_own_files_are_never_articles(tmp_path):
    (tmp_path / "feeds.txt").write_text("# news\nhttps://news.example.org/rss\n", encoding="utf-8")
    (tmp_path / LEDGER_FILE).write_text('{"format": 1, "feeds": {}, "entries": {}}', encoding="utf-8")
    (tmp_path / "bridge.txt").write_text("Bridge opens\n\nThe mayor opened the bridge.\n", encoding="utf-8")
    articles, skipped = read_folder(tmp_path)
    assert [a.id for a in articles] == ["bridge"] and skipped == []


@pytest.mark.parametrize("name, data, reason", [
    ("junk.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "binary content"),
    ("noise.html", bytes(range(1, 256)) * 8, "no article text"),
    ("empty.htm", b"", "no article text"),
    ("front.html", article_html("Front page", [], menu=("World", "Business", "Sport")).encode(), "no article text"),
    ("broken.html", b"<html><body><p>Too short.</p><div><table><tr><td>", "no article text"),
    ("headless.txt", render("Bridge", Source(URL), "").encode(), "no text after its source header"),
])
def test_a_bad_page_or_article_file_is_skipped_with_why_and_the_others_read(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "cafe.txt").write_text(fetched_file(), encoding="utf-8")
    articles, skipped = read_folder(tmp_path)
    assert [a.id for a in articles] == ["cafe"]
    assert len(skipped) == 1 and skipped[0].path.endswith(name) and reason in skipped[0].reason, skipped


def test_a_page_in_another_encoding_reads_as_written(tmp_path):
    html = article_html("Harbour café to close", PARAGRAPHS, charset="windows-1252", date="2024-03-05")
    (tmp_path / "cafe.html").write_bytes(html.encode("cp1252"))
    [article], _ = read_folder(tmp_path)
    assert "crème brûlée sold for €5" in article.text and article.published == "2024-03-05"


def citation(url: str | None = URL, sources=(COPY,)) -> Citation:
    quote = PARAGRAPHS[0]
    return Citation(1, "cafe", "Harbour café to close", "cafe#0", quote, 100, 100 + len(quote), 1.0,
                    url=url, published="2024-03-05", sources=tuple(sources))


def test_the_terminal_and_telegram_show_the_source_under_the_quote():
    answer = Answer("q?", f"{PARAGRAPHS[0]} [1]", (citation(),))
    text = plain_text(answer)
    assert f"    {URL} · 2024-03-05\n    also at {COPY}" in text
    [html] = telegram_html(answer)
    shown = _checked_text(html, "HTML")  # Telegram's own parser accepts it
    assert f'Source: <a href="{URL}">news.example.org</a> (2024-03-05); also <a href="{COPY}">wire.example.com</a>' \
        in html and "news.example.org" in shown


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org/a",
                                 'https://example.org/"><script>', "/relative/path", ""])
def test_only_an_http_url_becomes_a_link(url):
    assert safe_link(url) is None
    [html] = telegram_html(Answer("q?", f"{PARAGRAPHS[0]} [1]", (citation(url, sources=()),)))
    assert "<a " not in html and "Source:" not in html
    _checked_text(html, "HTML")


def test_the_api_returns_an_articles_source_and_a_citations(tmp_path, hashing):
    from bot.api.app import create_app
    from bot.settings import Settings
    from retrieval.engine import Engine, ask
    from retrieval.index.files.refresh import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cafe.txt").write_text(fetched_file(), encoding="utf-8")
    (corpus / "bridge.txt").write_text("Bridge opens\n\nThe mayor of Port Alba opened the new harbour bridge on "
                                       "Monday, three years after work began.\n", encoding="utf-8")
    build(corpus, tmp_path / "index", hashing)
    engine = Engine.open(tmp_path / "index", hashing)
    answer = ask(engine, "Who has run the café on the quay since 2009?")
    assert answer.citations and answer.citations[0].article_id == "cafe"
    assert (answer.citations[0].url, answer.citations[0].published) == (URL, "2024-03-05")
    settings = Settings(_env_file=None, corpus=corpus, index=tmp_path / "index", model=hashing.name,
                        conversations=tmp_path / "c.sqlite", rate_limit_per_minute=0)
    with TestClient(create_app(engine, settings)) as client:
        got = client.get("/v1/articles/cafe").json()
        assert (got["url"], got["published"], got["author"], got["sources"]) == (URL, "2024-03-05", "Ana Reis", [])
        plain = client.get("/v1/articles/bridge").json()
        assert plain["url"] is None and plain["sources"] == []
        asked = client.post("/v1/ask", json={"question": "Who has run the café on the quay since 2009?"}).json()
        assert asked["citations"][0]["url"] == URL and asked["citations"][0]["published"] == "2024-03-05"
        assert client.get("/v1/articles/no-such-article").status_code == 404


def test_two_files_with_one_id_are_one_article_and_a_skip_that_says_so(tmp_path, hashing):
    from retrieval.index.files.refresh import build

    (tmp_path / "cafe.html").write_text(article_html("Harbour café to close", PARAGRAPHS), encoding="utf-8")
    (tmp_path / "cafe.txt").write_text(fetched_file(), encoding="utf-8")
    [article], [skipped] = read_folder(tmp_path)
    assert article.path.endswith("cafe.html") and skipped.path.endswith("cafe.txt")
    assert "the same article id as cafe.html" in skipped.reason
    assert build(tmp_path, tmp_path / "index", hashing).articles == 1
