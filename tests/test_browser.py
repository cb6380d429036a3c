"""The web chat in Debian's Chromium, driven by Playwright: ask, read, open a citation, follow up, give feedback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from bot.api.app import create_app
from bot.settings import Settings
from conftest import NEWS, write_corpus
from retrieval.embed.embedders import HashingEmbedder
from retrieval.engine import Engine
from retrieval.index.files.refresh import build

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-quic"]
# An article whose text looks like markup: the page must show it as text, never run or render it.
MARKUP = ("Council Publishes <b>Bold</b> Plan\n\nThe council of Port Alba published its housing plan, titled "
          "<img src=x onerror=\"window.pwned=1\">, on its website. The plan promises 300 new homes by 2030.\n")


LIGHTHOUSE_URL = "https://news.example.org/2024/09/12/cape-morro-lighthouse?from=rss&page=1"
LIGHTHOUSE_COPY = "https://wire.example.com/story/lighthouse-lit-again"
LIGHTHOUSE = ("Cape Morro Lighthouse Lit Again\nURL: " + LIGHTHOUSE_URL + "\nPublished: 2024-09-12\n\n"
              "The lighthouse of Cape Morro was lit again on Thursday night after two years of repairs, the maritime "
              "authority said, and its beam can again be seen forty kilometres out at sea. The keeper, Joana Leal, "
              "said that the new lamp uses a tenth of the power of the old one and that the tower will open to "
              "visitors on weekends from June.\n")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    corpus = write_corpus(root / "news", {**NEWS, "markup": MARKUP, "lighthouse": LIGHTHOUSE})
    # The lighthouse story came from a feed; a wire service's copy of it was recorded and not kept.
    (corpus / "feeds.ledger.json").write_text(json.dumps({"format": 1, "feeds": {}, "entries": {LIGHTHOUSE_COPY: {
        "status": "duplicate", "duplicate_of": "lighthouse", "url": LIGHTHOUSE_COPY, "feeds": ["https://wire.example.com/rss"]}}}))
    build(corpus, root / "index", HashingEmbedder(256))
    settings = Settings(_env_file=None, corpus=corpus, index=root / "index", model="hashing-256",
                        conversations=root / "conversations.sqlite", rate_limit_per_minute=0)
    app = create_app(Engine.open(root / "index", HashingEmbedder(256)), settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        threading.Event().wait(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(served, browser):
    _, base = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []  # console errors, uncaught exceptions, and anything fetched from another host
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: r.url.startswith(base) or page.problems.append(f"fetched {r.url}"))
    page.goto(base + "/")
    yield page
    context.close()


def ask(page, question: str) -> dict:
    """Type the question and press Enter, as a keyboard user would; returns the API's answer."""
    page.locator("#question").fill(question)
    with page.expect_response("**/v1/ask") as response:
        page.keyboard.press("Enter")
    return response.value.json()


def sentences_of(app, citation) -> list[str]:
    """The article's own characters at the citation's sentence offsets."""
    text = app.state.engine.index.version.articles[citation["article_id"]].text
    return [text[s["start"]:s["end"]] for s in sorted(citation["sentences"], key=lambda s: s["start"])]


def expect_quoted_sentences_marked(page, app, citation) -> None:
    """Exactly the quoted sentences are marked, inside the passage shown around them."""
    expect(page.locator("#viewer-text mark")).to_have_text(sentences_of(app, citation))
    text = app.state.engine.index.version.articles[citation["article_id"]].text
    expect(page.locator("#viewer-text .passage")).to_have_text(text[citation["start"]:citation["end"]])


def test_ask_open_a_citation_follow_up_and_give_feedback(served, page):
    app, _ = served
    expect(page.locator("#question")).to_be_focused()
    first = ask(page, "Who opened the new harbour bridge of Port Alba?")
    answer = page.locator(".answer").nth(0)
    expect(answer.locator(".answer-text")).to_contain_text("Ines Duarte")
    expect(answer.locator(".citation").first).to_contain_text("New Harbour Bridge Opens")

    answer.locator(".citation").first.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-title")).to_have_text("New Harbour Bridge Opens")
    expect_quoted_sentences_marked(page, app, first["citations"][0])
    expect(viewer.locator("mark").first).to_be_focused()
    # The quote under the citation is the sentence the answer quotes, and the span is marked in the answer.
    sentence = sentences_of(app, first["citations"][0])[0]
    expect(answer.locator(".citations q").first).to_contain_text(" ".join(sentence.split()))
    expect(answer.locator(".answer-text mark.span")).to_have_text(first["span"])

    followup = ask(page, "How much did it cost?")
    assert followup["conversation_id"] == first["conversation_id"] and followup["turn"] == 2
    second = page.locator(".answer").nth(1)
    expect(second.locator(".answer-text")).to_contain_text("40 million euros")
    # Keyboard alone: focus the [1] in the answer, press Enter, read, Escape back to the question.
    second.locator(".cite-ref").first.focus()
    page.keyboard.press("Enter")
    expect_quoted_sentences_marked(page, app, followup["citations"][0])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "web-chat.png", full_page=True)
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(page.locator("#question")).to_be_focused()

    second.locator(".feedback-up").click()
    expect(second.locator(".feedback")).to_contain_text("Thank you")
    expect(second.locator(".feedback-up")).to_have_attribute("aria-pressed", "true")
    assert app.state.conversations.feedback("api:" + first["conversation_id"]) == [(2, True, None, "api")]
    assert page.problems == []


def test_new_conversation_starts_afresh(served, page, wait_until):
    app, _ = served
    first = ask(page, "Who opened the new harbour bridge of Port Alba?")
    expect(page.locator(".answer")).to_have_count(1)
    page.locator("#new-conversation").click()
    expect(page.locator("#log > li")).to_have_count(0)
    # The page clears its log at once and tells the server in the background: wait for the DELETE.
    wait_until(lambda: app.state.conversations.history("api:" + first["conversation_id"]) == [],
               "the server to forget the conversation")
    again = ask(page, "How many tonnes of apples did farmers in the Vale district pick?")
    assert again["conversation_id"] != first["conversation_id"] and again["turn"] == 1
    assert page.problems == []


def test_article_text_that_looks_like_markup_is_shown_as_text(page):
    answer = ask(page, "What housing plan did the council of Port Alba publish on its website?")
    assert answer["citations"][0]["article_id"] == "markup"
    page.locator(".citation").first.click()
    expect(page.locator("#viewer .passage")).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(page.locator("#viewer-title")).to_have_text("Council Publishes <b>Bold</b> Plan")
    expect(page.locator(".answer-text")).to_contain_text("<img src=x")
    assert page.locator("#viewer img, #viewer b, .answer img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert page.problems == []


def test_an_error_from_the_api_is_shown_not_thrown(page):
    page.evaluate("document.getElementById('question').removeAttribute('maxlength')")
    page.locator("#question").fill("y" * 1001)
    with page.expect_response("**/v1/ask") as response:
        page.keyboard.press("Enter")
    assert response.value.status == 422
    expect(page.locator("#status")).to_contain_text("question")
    expect(page.locator("#log .error")).to_have_count(1)


def test_a_citation_from_a_web_page_links_to_its_original_and_its_copies_safely(page):
    answer = ask(page, "When will the Cape Morro lighthouse tower open to visitors?")
    assert answer["citations"][0]["article_id"] == "lighthouse"
    sources = page.locator(".citations .sources").first
    expect(sources).to_contain_text("Original: news.example.org (2024-09-12); also at wire.example.com")
    for link, href in zip(sources.locator("a").all(), (LIGHTHOUSE_URL, LIGHTHOUSE_COPY)):
        expect(link).to_have_attribute("href", href)
        expect(link).to_have_attribute("rel", "noopener noreferrer")
    page.locator(".citation").first.click()
    expect(page.locator("#viewer-meta a")).to_have_attribute("href", LIGHTHOUSE_URL)
    # Only an http(s) URL ever becomes a link, whatever the server sends.
    made = page.evaluate("['javascript:alert(1)', 'data:text/html,<b>x</b>', '/relative', 'vbscript:x', 'https://ok.example/a']"
                         ".map((u) => { const a = sourceLink(u); return a && a.href; })")
    assert made == [None, None, None, None, "https://ok.example/a"]
    assert page.problems == []
