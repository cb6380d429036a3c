"""Hostile input: questions and articles with control characters, right-to-left text, emoji, 10,000-character
lines, HTML and Markdown injection. Never a 5xx; markup comes back as text, escaped in Telegram HTML."""

from __future__ import annotations

import json
import unicodedata
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from bot.api.app import create_app
from bot.render import TELEGRAM_LIMIT, telegram_html, telegram_passage
from bot.settings import Settings
from conftest import NEWS, write_corpus
from retrieval.embed.embedders import HashingEmbedder
from retrieval.engine import Engine, ask
from retrieval.question.wording import clean_question
from retrieval.index.files.refresh import build

INJECTION = "<script>alert('pwned')</script><img src=x onerror=alert(1)>"
MARKDOWN = "**bold** [click](javascript:alert(1)) `code` _x_ ![img](http://evil.example/x.png)"
HOSTILE_ARTICLE = (f"Harbour Tolls {INJECTION} {MARKDOWN}\n\n"
                   f"The port of Zephyrine raised its harbour tolls to 17 euros, said the harbourmaster Odo Quillan. "
                   f"He wrote {INJECTION} in the notice and {MARKDOWN} under it. "
                   f"The Arabic notice read \u202eمرحبا بكم في الميناء\u202c and the emoji 🚢⚓🏴‍☠️ marked the quay. "
                   f"A bell\x07 and an escape\x1b[31m sequence were in the text too.\n"
                   + ("A very long line about the tolls of Zephyrine " * 220) + "\n")
QUESTIONS = [
    "Who\x00 raised\x1b[2J the tolls\x07 of Zephyrine?",
    "\u202eWho raised the harbour tolls of Zephyrine?\u202c",
    "من رفع رسوم الميناء؟",
    "🚢 Who raised the harbour tolls of Zephyrine? ⚓🏴‍☠️",
    f"{INJECTION} Who raised the harbour tolls of Zephyrine?",
    f"{MARKDOWN} Who raised the harbour tolls?",
    "\u200b\u200d\ufeff Who raised the tolls?",
    "Zephyrine " * 100,  # 1,000 characters: the longest question accepted
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    corpus = write_corpus(root / "news", {**NEWS, "tolls": HOSTILE_ARTICLE})
    build(corpus, root / "index", HashingEmbedder(256))
    engine = Engine.open(root / "index", HashingEmbedder(256))
    settings = Settings(_env_file=None, corpus=corpus, index=root / "index", model="hashing-256",
                        conversations=root / "conversations.sqlite", rate_limit_per_minute=0)
    with TestClient(create_app(engine, settings)) as client:
        yield engine, client


@pytest.mark.parametrize("question", QUESTIONS)
def test_hostile_questions_are_answered_or_refused_never_a_server_error(hostile, question):
    engine, client = hostile
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["index_version"] and answer["question"].split() == clean_question(question).split()
    assert not any(unicodedata.category(c) == "Cc" for c in answer["question"] + answer["text"])
    for message in telegram_html(ask(engine, question)):
        assert_only_telegram_markup(message)


@pytest.mark.parametrize("body, status", [
    (json.dumps({"question": "Who " + "raised the tolls " * 588}), 422),  # a 10,000-character line
    (b'{"question": "\\ud800 Who raised the tolls?"}', 422),  # a lone surrogate: no text can hold it
    (b'{"question": "\\u0000\\u0007\\u001b"}', 422),  # nothing but control characters
    ('{"question": "' + "\u202e" * 50 + '"}', 422),  # nothing but direction marks
    (json.dumps({"question": "Who?", "conversation_id": "<script>"}), 422),
    (json.dumps({"question": "Who?", "article_ids": ["../../etc/passwd"]}), 200),
])
def test_malformed_questions_are_refused_with_4xx(hostile, body, status):
    _, client = hostile
    response = client.post("/v1/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")


def test_an_article_full_of_markup_is_served_as_text_and_escaped_for_telegram(hostile):
    engine, client = hostile
    answer = client.post("/v1/ask", json={"question": "Who raised the harbour tolls of Zephyrine?"}).json()
    assert answer["citations"] and answer["citations"][0]["article_id"] == "tolls"
    article = client.get("/v1/articles/tolls").json()
    assert INJECTION in article["title"] and INJECTION in article["text"]  # JSON carries the text as it is
    assert "\x07" in article["text"] and "🏴‍☠️" in article["text"]
    messages = telegram_html(ask(engine, "Who raised the harbour tolls of Zephyrine?"))
    passage = engine.index.version.passages_of("tolls")
    long_passage = max(passage, key=lambda p: len(p.text))
    messages += telegram_passage(1, engine.index.version.articles["tolls"].title, None, long_passage.text,
                                 [(0, 40)])
    messages += telegram_passage(2, INJECTION, INJECTION, HOSTILE_ARTICLE * 3, [(5, 5000), (6000, 9000)])
    assert any("&lt;script&gt;" in m for m in messages)
    for message in messages:
        assert_only_telegram_markup(message)
        assert len(message.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT


def test_the_web_page_puts_server_text_on_the_page_only_as_text(hostile):
    """The page's script never turns server text into HTML: no innerHTML, outerHTML, insertAdjacentHTML or
    document.write (the browser test shows an article full of markup rendered as text)."""
    _, client = hostile
    script = client.get("/static/chat.js").text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    assert "default-src 'self'" in client.get("/").headers["content-security-policy"]


class TelegramMarkup(HTMLParser):
    """Telegram HTML as the Bot API parses it: the tags our renderer writes, and nothing else."""

    ALLOWED = {"b", "i", "a", "code", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        assert tag in self.ALLOWED and not attrs, f"unexpected <{tag} {attrs}>"
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"


def assert_only_telegram_markup(message: str) -> None:
    parser = TelegramMarkup()
    parser.feed(message)
    parser.close()
    assert not parser.stack, f"unclosed {parser.stack}"
