"""Saved web pages in, main text out: the real pages of ../shared/pages, made pages in other encodings, the article file."""

from __future__ import annotations

import dataclasses

import pytest
from web_site import PAGES, PARAGRAPHS, SAVED, article_html

from retrieval.web.article_file import Source, article_name, normalize_url, read_source, render
from retrieval.web.charset import decode_html
from retrieval.web.errors import NoArticleText
from retrieval.web.pages import clean_text, extract_page


@pytest.mark.parametrize("name", SAVED)
def test_saved_page_main_text_without_menus(name):
    expected = SAVED[name]
    page = extract_page((PAGES / f"{name}.html").read_bytes())
    assert (page.title, page.published, page.author, page.url) == (
        expected["title"], expected["published"], expected["author"], expected["url"])
    for sentence in expected["sentences"]:
        assert sentence in page.text
    lowered = page.text.lower()
    for item in expected["menu"]:
        assert item.lower() not in lowered, f"menu text {item!r} kept"
    assert clean_text(page.text) == page.text  # final: nothing downstream rewrites it, so offsets hold
    assert "\r" not in page.text and "\n\n" not in page.text


def test_page_is_frozen():
    page = extract_page((PAGES / "salon.com.emissions.html").read_bytes())
    with pytest.raises(dataclasses.FrozenInstanceError):
        page.text = ""


@pytest.mark.parametrize("encoding", ["windows-1252", "iso-8859-1"])
def test_legacy_encoding_declared_only_in_meta(encoding):
    html = article_html("Harbour café to close", PARAGRAPHS, charset=encoding)
    page = extract_page(html.encode("cp1252"), content_type="text/html")  # the header names no charset
    assert page.encoding == "cp1252"
    assert "“naïve”: the café’s crème brûlée sold for €5" in page.text
    assert page.title == "Harbour café to close"


def test_gb2312_declared_only_in_meta():
    sentences = ["国家知识产权局今天在北京发布了二零二三年度报告。", "报告显示，全年发明专利授权量继续增长，商标注册数量也创下新高。",
                 "局长表示，明年将进一步加强知识产权保护，优化营商环境。"]
    html = article_html("知识产权年度报告发布", [s * 3 for s in sentences], charset="gb2312")
    page = extract_page(html.encode("gb2312", errors="xmlcharrefreplace"))  # the footer's ©
    assert page.title == "知识产权年度报告发布"
    assert all(s in page.text for s in sentences)


def test_http_header_charset_when_the_page_has_none():
    html = article_html("Harbour café to close", PARAGRAPHS, charset="")
    page = extract_page(html.encode("cp1252"), content_type="text/html; charset=windows-1252")
    assert "crème brûlée sold for €5" in page.text


def test_utf8_bytes_mislabelled_as_latin1_read_as_utf8():
    html = article_html("Harbour café to close", PARAGRAPHS, charset="iso-8859-1")
    text, codec = decode_html(html.encode("utf-8"), "text/html; charset=ISO-8859-1")
    assert codec == "utf-8" and "crème brûlée" in text


def test_byte_order_mark_wins():
    html = article_html("Harbour café to close", PARAGRAPHS, charset="windows-1252")
    text, codec = decode_html("\ufeff".encode("utf-16-le") + html.encode("utf-16-le"))
    assert codec == "utf-16-le" and "crème brûlée" in text


def test_page_without_article_text_is_an_error():
    html = article_html("Front page", [], menu=("World", "Business", "Sport", "Culture"))
    with pytest.raises(NoArticleText, match="http://127.0.0.1/front"):
        extract_page(html.encode(), url="http://127.0.0.1/front")
    with pytest.raises(NoArticleText):
        extract_page(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", url="http://127.0.0.1/img")


def test_article_file_round_trip_keeps_offsets():
    page = extract_page((PAGES / "theverge.com.ios13.html").read_bytes())
    source = Source(page.url, page.published, page.author, page.site, "https://example.org/feed.xml")
    text = render(page.title, source, page.text)
    assert text.split("\n", 1)[0] == page.title  # the first line is still the title
    found, start = read_source(text)
    assert found == source
    assert text[start:] == page.text + "\n"  # the body is the extracted text verbatim: offsets carry over


def test_plain_article_has_no_header():
    text = "Harbour Bridge Opens\nAuthor: Ines Duarte\n\nOn March 3, 2021, the mayor opened the bridge.\n"
    assert read_source(text) == (None, 0)


def test_article_names_are_stable_readable_and_distinct():
    url = "https://www.theguardian.com/education/2020/jan/20/thousands-of-uk-academics?utm_source=rss#comments"
    name = article_name(url)
    assert name == article_name("https://WWW.theguardian.com:443/education/2020/jan/20/thousands-of-uk-academics")
    assert name.startswith("theguardian.com_thousands-of-uk-academics_")
    assert article_name("https://example.org/news/1234") != article_name("https://example.org/news/1235")
    assert normalize_url("http://Example.org:80/a?b=1&utm_medium=x#top") == "http://example.org/a?b=1"
    assert all(c.isalnum() or c in "._-" for c in article_name("https://例え.jp/ニュース/記事.html"))
