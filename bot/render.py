"""Answers and figures as text for people: the terminal now, Telegram HTML later. Pure."""

from __future__ import annotations

import textwrap

from retrieval.types import Answer


def plain_text(answer: Answer, quote_chars: int = 300) -> str:
    lines = [answer.text]
    if answer.span:
        lines.insert(0, f"Answer: {answer.span}")
    for c in answer.citations:
        quote = textwrap.shorten(" ".join(c.quote.split()), quote_chars, placeholder=" …")
        lines.append(f"[{c.n}] {c.title} ({c.passage_id})\n    “{quote}”")
    return "\n".join(lines)


FIGURES = ("hit@1", "hit@3", "mrr@10", "answer_hit", "span_exact", "span_f1", "false_abstain", "abstain_rate",
           "followup_hit@3", "followup_answer_hit", "followup_false_abstain", "ask_p50_ms", "ask_p95_ms", "questions")


def figures_table(results: dict[str, dict]) -> str:
    """One column per retriever, one row per figure, as a Markdown table."""
    names = list(results)
    rows = [f"| figure | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
    for figure in FIGURES:
        if any(figure in r for r in results.values()):
            rows.append(f"| {figure} | " + " | ".join(str(results[n].get(figure, "")) for n in names) + " |")
    return "\n".join(rows)
