"""Answers and figures as text for people: plain text for the terminal, HTML for Telegram. Pure."""

from __future__ import annotations

import re
import textwrap
from html import escape
from urllib.parse import urlsplit

from retrieval.types import Answer, Citation
from retrieval.web.report import CollectReport, Progress


def plain_text(answer: Answer, quote_chars: int = 300) -> str:
    lines = [answer.text]
    if answer.span:
        lines.insert(0, f"Answer: {answer.span}")
    for c in answer.citations:
        # The sentences the answer quotes, with their offsets in the article; the passage when it has none.
        ranges = cited_ranges(answer, c.n) or [(0, len(c.quote))]
        quote = textwrap.shorten(" … ".join(" ".join(c.quote[s:e].split()) for s, e in ranges), quote_chars,
                                 placeholder=" …")
        where = ", ".join(f"{c.start + s}-{c.start + e}" for s, e in ranges)
        lines.append(f"[{c.n}] {c.title} ({c.passage_id}, characters {where})\n    “{quote}”")
        lines += [f"    {line}" for line in source_lines(c)]
    return "\n".join(lines)


def source_lines(c: Citation) -> list[str]:
    """Where a citation's article came from, for the terminal: its URL and date, then its other sources."""
    lines = [" · ".join(x for x in (c.url, c.published) if x)] if c.url else []
    if c.sources:
        lines.append("also at " + ", ".join(c.sources))
    return lines


def safe_link(url: str | None) -> str | None:
    """`url` when it may be a link's target: http(s) with a host, nothing that could break out of an
    attribute; None otherwise (a javascript: or data: URL from a page's metadata never becomes a link)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(ch in url for ch in '"<> \n\r\t'):
        return None
    return url


def collect_progress(event: Progress) -> str:
    """One step of the feeds step, for a person watching a refresh."""
    if event.stage == "feed":
        return f"reading {event.feed}"
    if event.stage == "page":
        return f"{event.feed}: page {event.done + 1} of {event.total}: {event.url}"
    return f"{event.feed}: done"


def collect_report(report: CollectReport) -> str:
    """What the feeds step did: a line a feed (entries seen, new, fetched, failed, duplicates), then each
    failure and duplicate with its URL and why, then a total."""
    lines = report.lines()
    failed = sum(len(f.failed) for f in report.feeds) + len(report.failed_feeds)
    lines.append(f"feeds: {len(report.feeds)} read, {len(report.failed_feeds)} failed; {len(report.written)} new "
                 f"articles, {failed} failures; {report.seconds:.1f} s")
    return "\n".join(lines)


FIGURES = ("hit@1", "hit@3", "mrr@10", "answer_hit", "span_exact", "span_f1", "span_exact_all", "span_f1_all",
           "false_abstain", "abstain_rate", "article@1",
           "followup_hit@3", "followup_answer_hit", "followup_false_abstain", "followup_article@1",
           "coqa_f1", "first_turn_coqa_f1", "followup_coqa_f1", "coqa_f1/span", "coqa_f1/yesno", "coqa_f1/free",
           "yesno_right", "refused",
           "list_span_recall", "list_sentences_hold_all", "list_first_citation", "list_member_precision",
           "ask_p50_ms", "ask_p95_ms", "questions")


def figures_table(results: dict[str, dict]) -> str:
    """One column per retriever, one row per figure, as a Markdown table."""
    names = list(results)
    rows = [f"| figure | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
    for figure in FIGURES:
        if any(figure in r for r in results.values()):
            rows.append(f"| {figure} | " + " | ".join(str(results[n].get(figure, "")) for n in names) + " |")
    return "\n".join(rows)


# Telegram: HTML parse mode. Every piece of text is escaped; the only tags are the ones written here.
TELEGRAM_LIMIT = 4096  # characters a message may hold
_MARKED = re.compile(r" ?(.+?) \[(\d+)\](?= |$)", re.S)  # the answer's sentences, each with its passage number


def telegram_html(answer: Answer, quote_chars: int = 120, note: str | None = None) -> list[str]:
    """`note` in italics when given, the answer with its span in bold, then the numbered citations; one
    string per message (the note is split with the rest, so no message outgrows Telegram's limit)."""
    blocks = [f"<i>{escape(note)}</i>"] if note else []
    if answer.abstained and answer.details.get("needs_context"):
        blocks.append(escape(answer.text))
        return split_html("\n\n".join(blocks))
    if answer.abstained:
        blocks.append(f"{escape(answer.text)} Nothing in the articles I know answers that. Try asking it another "
                      "way, or send /sources to see which articles I have.")
        return split_html("\n\n".join(blocks))
    if answer.members:
        # A set answer: its members one to a line (a long list is split between lines, never inside a name),
        # then the sentences they come from.
        blocks.append(f"<b>{len(answer.members)} named:</b>\n" + "\n".join(f"• {escape(m.text)}" for m in answer.members))
        blocks.append(escape(answer.text))
    else:
        blocks.append(_with_span(answer.text, answer.span))
    for c in answer.citations:
        ranges = cited_ranges(answer, c.n)
        quote = c.quote[ranges[0][0]:ranges[0][1]] if ranges else c.quote
        quote = textwrap.shorten(" ".join(quote.split()), quote_chars, placeholder=" …")
        blocks.append(f"[{c.n}] <b>{escape(c.title)}</b>\n<i>“{escape(quote)}”</i>" + _telegram_source(c))
    return split_html("\n\n".join(blocks))


def _telegram_source(c: Citation) -> str:
    """The source's link under the quote (only an http(s) URL becomes one), with its date and other sources."""
    links = [(url, urlsplit(url).hostname or url) for url in (c.url, *c.sources) if safe_link(url)]
    if not links:
        return ""
    first, *others = [f'<a href="{escape(url, quote=True)}">{escape(host)}</a>' for url, host in links]
    line = f"\nSource: {first}" + (f" ({escape(c.published)})" if c.published and c.url else "")
    return line + (f"; also {', '.join(others)}" if others else "")


def cited_ranges(answer: Answer, n: int) -> list[tuple[int, int]]:
    """Where the sentences the answer takes from citation `n` sit in its quote (the whole passage): its
    sentence offsets, or for a citation without them, where the answer's sentences are found in it."""
    citation = next((c for c in answer.citations if c.n == n), None)
    if citation is not None and citation.sentences:
        return sorted((s.start - citation.start, s.end - citation.start) for s in citation.sentences)
    quote = citation.quote if citation is not None else ""
    ranges = []
    for m in _MARKED.finditer(answer.text):
        found = quote.find(m.group(1)) if int(m.group(2)) == n else -1
        if found >= 0:
            ranges.append((found, found + len(m.group(1))))
    return sorted(ranges)


def span_range(answer: Answer, n: int) -> tuple[int, int] | None:
    """Where the answer's span stands in citation `n`'s quote (the whole passage), inside a sentence the
    answer quotes from it; None when the span is not in them."""
    if not answer.span:
        return None
    citation = next((c for c in answer.citations if c.n == n), None)
    for start, end in cited_ranges(answer, n):
        at = citation.quote.find(answer.span, start, end)
        if at >= 0:
            return at, at + len(answer.span)
    return None


def telegram_passage(n: int | None, title: str, date: str | None, text: str,
                     highlights: list[tuple[int, int]] = (), span: tuple[int, int] | None = None) -> list[str]:
    """A whole passage under its title, the cited sentences in bold and the answer's span underlined."""
    marks = [(s, e, "b") for s, e in highlights] + ([(*span, "u")] if span else [])
    cuts = sorted({0, len(text), *(min(max(x, 0), len(text)) for s, e, _ in marks for x in (s, e))})
    body = []
    for start, end in zip(cuts, cuts[1:]):
        piece = escape(text[start:end])
        for tag in ("u", "b"):  # <b><u>...</u></b>: bold outside, as the sentence holds the span
            if any(s <= start and end <= e for s, e, t in marks if t == tag):
                piece = f"<{tag}>{piece}</{tag}>"
        body.append(piece)
    head = f"<b>{f'[{n}] ' if n else ''}{escape(title)}</b>" + (f"\n<i>{escape(date)}</i>" if date else "")
    return split_html(f"{head}\n\n{''.join(body).replace('</b><b>', '')}")


def telegram_sources(articles: list[tuple[str, str | None]]) -> list[str]:
    """The articles (title, date), numbered."""
    lines = [f"<b>The {len(articles)} articles I know</b>"]
    lines += [f"{k}. {escape(title)}" + (f" <i>({escape(date)})</i>" if date else "")
              for k, (title, date) in enumerate(articles, 1)]
    return split_html("\n".join(lines))


def _with_span(text: str, span: str | None) -> str:
    at = text.find(span) if span else -1
    if at < 0 and span and text[:len(span)].lower() == span.lower():  # the verdict leads: "Yes. ..."
        at, span = 0, text[:len(span)]
    if at >= 0:
        return f"{escape(text[:at])}<b>{escape(span)}</b>{escape(text[at + len(span):])}"
    return f"<b>{escape(span)}</b>\n{escape(text)}" if span else escape(text)


_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|\n\n|\n| |[^<&\n ]{1,64}|.", re.S)
_BREAKS = ("\n\n", "\n", " ")  # where to cut, best first


def split_html(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Messages of at most `limit` characters, cut at a paragraph break if one fills half a message, else
    a line break, else a space; never inside a tag or an entity. A cut inside <b>...</b> closes the tag and
    opens it again in the next message."""
    tokens = _TOKEN.findall(html)
    messages, start, stack = [], 0, []
    while start < len(tokens):
        prefix = "".join(tag for _, tag in stack)
        size, opened, i, cuts = _units(prefix), stack, start, {}
        while i < len(tokens):
            after = _nest(opened, tokens[i])
            if size + _units(tokens[i]) + sum(len(name) + 3 for name, _ in after) > limit:
                break
            size, opened, i = size + _units(tokens[i]), after, i + 1
            if tokens[i - 1] in _BREAKS:
                cuts[tokens[i - 1]] = (i, opened, size)
        if i == len(tokens):
            cut, then = i, opened
        else:
            # The best kind of break that still fills half a message; else the last break of any kind.
            full = [cuts[b] for b in _BREAKS if b in cuts and cuts[b][2] >= limit // 2]
            cut, then, _ = (full or sorted(cuts.values(), key=lambda c: c[0])[-1:] or [(i, opened, 0)])[0]
            if cut == start:
                raise ValueError(f"limit {limit} is too small for the markup")
        message = (prefix + "".join(tokens[start:cut])).rstrip() + "".join(f"</{name}>" for name, _ in reversed(then))
        if re.sub(r"<[^>]*>", "", message).strip():
            messages.append(message)
        start, stack = cut, then
        while start < len(tokens) and tokens[start] in _BREAKS:
            start += 1
    return messages


def _nest(stack: list[tuple[str, str]], token: str) -> list[tuple[str, str]]:
    """The open tags after `token`."""
    tag = re.match(r"<(/?)([A-Za-z][\w-]*)", token)
    if not tag or token.endswith("/>"):
        return stack
    if tag.group(1):
        return stack[:-1] if stack and stack[-1][0] == tag.group(2) else stack
    return [*stack, (tag.group(2), token)]


def _units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
