"""Reading a folder: titles, dates, boilerplate, and bad files that are skipped without losing others."""

import os

import pytest

from retrieval.articles.folder import find_date, is_boilerplate, parse_article, read_folder
from retrieval.errors import NoArticles
from retrieval.index.files.refresh import build
from tests.conftest import MENU_ARTICLE, SEEDS


def test_seed_titles_and_dates():
    articles = {a.id: a for a in read_folder(SEEDS)[0]}
    assert len(articles) == 5
    menu = articles[MENU_ARTICLE]
    # The navigation menu that opens the file is not the title: the headline after it is.
    assert menu.title == "WIPO Office in China Celebrates One Year of Operations"
    assert (menu.date, menu.published) == ("July 22, 2015", "2015-07-22")
    assert articles["002_329b1d574b35a143"].date == "April 23"
    assert articles["000_e3717a06dcafe9c2"].title.startswith("Vice Mayor of Beijing Meets with WIPO")


def test_menu_is_outside_every_section():
    article = {a.id: a for a in read_folder(SEEDS)[0]}[MENU_ARTICLE]
    menu_end = article.text.index("Oversight") + len("Oversight")
    assert all(start > menu_end for start, _ in article.sections)


def test_boilerplate_rule_is_general():
    footer = " ".join(["Home", "About Us", "Contact", "Privacy Policy", "Terms of Use", "Careers", "Press Room",
                       "Annual Reports", "Sitemap", "Accessibility", "Newsletter", "Events Calendar"])
    assert is_boilerplate(footer + " Subscribe Follow Us Facebook Twitter LinkedIn")
    assert is_boilerplate("Home | News | Sport | Weather")
    prose = ("The committee met on Tuesday. It approved the budget for the coming year. Members of the public "
             "asked questions about the new park. The chair promised a full answer within a month.")
    assert not is_boilerplate(prose)
    assert not is_boilerplate("July 22, 2015")


@pytest.mark.parametrize("text, expected", [
    ("It opened on July 22, 2015 in Geneva.", ("July 22, 2015", "2015-07-22")),
    ("Signed on 3 March 2021.", ("3 March 2021", "2021-03-03")),
    ("On May 16th, the mayor met them.", ("May 16th", None)),
    ("Nothing dated here.", (None, None)),
    ("Due on February 31, 2015.", ("February 31, 2015", None)),
])
def test_find_date(text, expected):
    assert find_date(text) == expected


def test_markdown_title_and_one_line_article():
    article = parse_article("md", "# A Heading\n\nBody sentence here.")
    assert article.title == "A Heading"
    single = parse_article("one", "Only one line of text.")
    assert single.sections == ((0, len("Only one line of text.")),)


def test_bad_files_are_skipped_and_named(tmp_path, caplog):
    (tmp_path / "good.txt").write_text("Good Title\n\nA fine sentence.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"Title\n\x00\x01\x02")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 news\n\nIt rained.".encode("latin-1"))
    (tmp_path / "huge.md").write_text("Big\n\n" + "word " * 400, encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")  # not an article type: ignored silently
    outside = tmp_path.parent / "outside.txt"
    outside.write_text("Secret\n\nDo not read.", encoding="utf-8")
    os.symlink(outside, tmp_path / "link.txt")
    articles, skipped = read_folder(tmp_path, max_bytes=1000)
    assert [a.id for a in articles] == ["good"]
    reasons = {os.path.basename(s.path): s.reason for s in skipped}
    assert reasons.keys() == {"empty.txt", "binary.txt", "latin1.txt", "huge.md", "link.txt"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"] and "limit" in reasons["huge.md"]
    assert "outside" in reasons["link.txt"]
    assert "latin1.txt" in caplog.text  # the warning names the file


def test_folder_without_articles_is_an_error(tmp_path, hashing):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(NoArticles, match="empty.txt"):
        build(tmp_path, tmp_path / "index", hashing)
    with pytest.raises(NoArticles):
        build(tmp_path / "missing", tmp_path / "index", hashing)
    assert not (tmp_path / "index" / "CURRENT").exists()
