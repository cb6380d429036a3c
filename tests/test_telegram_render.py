"""Telegram HTML rendering: everything escaped, spans in bold, messages Telegram accepts. The imitation's
parser (tests/botapi.py) is the oracle for what Telegram accepts."""

import random
from html import escape

import pytest
from botapi import Refused, _checked_text, shown as visible

from bot.render import cited_ranges, span_range, split_html, telegram_html, telegram_passage, telegram_sources
from retrieval.types import Answer, Citation

PASSAGE = "Intro sentence. Tom & Jerry <script>alert(1)</script> said \"hi\" [2]. Last one."
CITED = "Tom & Jerry <script>alert(1)</script> said \"hi\" [2]."


def answer(text=f"{CITED} [1]", span=None, title="<b>Cats & Mice</b>") -> Answer:
    citation = Citation(1, "cats", title, "cats#0", PASSAGE, 0, len(PASSAGE), 1.0)
    return Answer("q?", text, (citation,), span=span)


def test_every_piece_of_text_is_escaped_and_telegram_accepts_it():
    [html] = telegram_html(answer())
    shown = _checked_text(html, "HTML")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert CITED in shown and "[1] <b>Cats & Mice</b>" in shown
    assert "“Tom & Jerry" in shown  # the quote is the cited sentence, not the passage's start


def test_the_span_is_bold_where_it_stands_or_leads_when_it_does_not():
    [inside] = telegram_html(answer(span="Tom & Jerry"))
    assert inside.startswith("<b>Tom &amp; Jerry</b> &lt;script&gt;")
    [apart] = telegram_html(answer(span="Spike"))
    assert apart.startswith("<b>Spike</b>\nTom &amp; Jerry")
    _checked_text(inside, "HTML"), _checked_text(apart, "HTML")


def test_a_verdict_leads_in_bold():
    [html] = telegram_html(answer(text=f"Yes. {CITED} [1]", span="yes"))
    assert html.startswith("<b>Yes</b>. Tom &amp; Jerry")
    _checked_text(html, "HTML")


def test_a_question_with_nothing_to_lean_on_gets_the_plain_request_alone():
    asked = Answer("When?", "What is it about? Ask it with who or what you mean.", abstained=True,
                   details={"needs_context": True})
    [html] = telegram_html(asked)
    assert html == "What is it about? Ask it with who or what you mean." and "/sources" not in html


def test_an_abstention_says_so_and_points_to_sources():
    [html] = telegram_html(Answer("q?", "The articles don't say.", abstained=True))
    assert "The articles don&#x27;t say." in html and "/sources" in html
    _checked_text(html, "HTML")


def test_cited_ranges_find_the_sentences_in_the_passage():
    two = answer(text=f"Intro sentence. [1] {CITED} [1]")
    assert [PASSAGE[s:e] for s, e in cited_ranges(two, 1)] == ["Intro sentence.", CITED]
    assert cited_ranges(two, 2) == []


def test_passage_and_sources_are_valid_html():
    [passage] = telegram_passage(1, "A <title>", "May 1", PASSAGE, cited_ranges(answer(), 1))
    assert f"<b>{escape(CITED)}</b>" in passage
    assert _checked_text(passage, "HTML").startswith("[1] A <title>\nMay 1\n\nIntro sentence.")
    [sources] = telegram_sources([("A & B", None), ("C", "April 8")])
    assert _checked_text(sources, "HTML") == "The 2 articles I know\n1. A & B\n2. C (April 8)"


def test_a_note_leads_the_answer_and_is_split_with_it():
    note = "I read this as a new question."
    long = answer(text=("A very long sentence about cats and mice. " * 95).strip() + " [1]")
    parts = telegram_html(long, note=note)
    assert len(parts) >= 2 and parts[0].startswith(f"<i>{note}</i>\n\n")
    assert all(len(_checked_text(part, "HTML")) <= 4096 for part in parts)  # the imitation refuses more
    [declined] = telegram_html(Answer("q?", "The articles don't say.", abstained=True), note=note)
    assert declined.startswith(f"<i>{note}</i>\n\nThe articles don&#x27;t say.")


def test_the_span_is_found_inside_the_cited_sentences_only():
    at = PASSAGE.index("said")
    assert span_range(answer(span="said"), 1) == (at, at + 4)
    assert span_range(answer(span="Intro"), 1) is None  # in the passage, but not in a sentence the answer quotes
    assert span_range(answer(span="Spike"), 1) is None and span_range(answer(), 1) is None


def test_the_passage_underlines_the_span_inside_its_bold_sentence():
    quoted = answer(span="said")
    [passage] = telegram_passage(1, "T", None, PASSAGE, cited_ranges(quoted, 1), span_range(quoted, 1))
    before, after = CITED.split("said")
    assert f"<b>{escape(before)}<u>said</u>{escape(after)}</b>" in passage
    assert _checked_text(passage, "HTML") == f"[1] T\n\n{PASSAGE}"


@pytest.mark.parametrize("seed", range(20))
def test_split_messages_fit_are_balanced_and_lose_nothing(seed):
    rng = random.Random(seed)
    blocks = []
    for _ in range(rng.randint(1, 12)):
        words = [rng.choice(["a", "word", "Tom&amp;Jerry", "&lt;x&gt;", "x" * rng.randint(1, 90), "é😀"])
                 for _ in range(rng.randint(1, 60))]
        if rng.random() < 0.5:
            k, j = sorted(rng.sample(range(len(words) + 1), 2))
            words[k:j] = ["<b>" + " ".join(words[k:j]) + "</b>"] if j > k else []
        blocks.append(" ".join(words) if rng.random() < 0.7 else "\n".join(words))
    html = "\n\n".join(blocks)
    limit = rng.choice([120, 300, 4096])
    parts = split_html(html, limit)
    shown = [_checked_text(p, "HTML") for p in parts]  # balanced tags, known entities
    assert all(len(p.encode("utf-16-le")) // 2 <= limit for p in parts)
    assert "".join("".join(s.split()) for s in shown) == "".join(visible(html).split())


def test_split_prefers_paragraph_breaks():
    paragraphs = [f"<i>{'word ' * 150}</i>" for _ in range(3)]  # about 760 characters each
    parts = split_html("\n\n".join(paragraphs), 2000)
    assert parts == ["\n\n".join(paragraphs[:2]), paragraphs[2]]


def test_the_imitation_refuses_what_telegram_refuses():
    for bad in ["<b>open", "a < b", "<br/>", "<p>x</p>", "&nbsp;", "x" * 4097, " "]:
        with pytest.raises(Refused):
            _checked_text(bad, "HTML")
