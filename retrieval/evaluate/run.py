"""`citeqa eval`: the figures of shared/eval/README.md for one engine over one questions file."""

from __future__ import annotations

import collections
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.engine import Engine, ask
from retrieval.evaluate.lists import list_figures
from retrieval.evaluate.metrics import coqa_scores, is_short, squad_normalise, token_f1
from retrieval.errors import CiteqaError
from retrieval.question.wording import answer_type
from retrieval.types import Answer, Turn


class BadQuestionsFile(CiteqaError):
    """A questions file that does not follow the evaluation format."""


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    question: str
    article: str | None = None
    evidence: str | None = None
    answer: tuple[str, ...] = ()
    abstain: bool = False
    # CoQA's fields (shared/convqa/README.md): the turn's kind (span, yesno, free), its free-text answers,
    # and the articles the whole conversation is asked over (read as the API's article_ids filter).
    kind: str | None = None
    answers: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # a set question's every member (retrieval/evaluate/lists.py)


@dataclass
class Report:
    figures: dict
    misses: list[dict] = field(default_factory=list)


def load_questions(path: Path) -> list[list[Item]]:
    """Conversations of one or more turns, in file order."""
    conversations = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise BadQuestionsFile(f"cannot read questions file {path}: {err}") from err
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            turns = record["turns"] if "turns" in record else [record]
            restrict = record.get("article_ids") or []
            if not isinstance(restrict, list) or not all(isinstance(a, str) for a in restrict):
                raise TypeError("article_ids must be a list of article ids")
            conversations.append([_item(record.get("id", f"line{number}"), k, t, tuple(restrict)) for k, t in enumerate(turns)])
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise BadQuestionsFile(f"{path}, line {number}: not a question record ({err!r})") from err
    if not conversations:
        raise BadQuestionsFile(f"{path} holds no questions")
    return conversations


KINDS = ("span", "yesno", "free")


def _item(conversation_id: str, k: int, t: dict, article_ids: tuple[str, ...] = ()) -> Item:
    if not isinstance(t.get("question"), str):
        raise KeyError("question")
    if t.get("kind") is not None and t["kind"] not in KINDS:
        raise ValueError(f"kind {t['kind']!r} is none of {', '.join(KINDS)}")
    answer, answers = t.get("answer") or (), t.get("answers") or ()
    if not all(isinstance(a, str) for a in (*answer, *answers)):
        raise TypeError("answer and answers must be lists of strings")
    return Item(id=f"{conversation_id}" + (f".{k + 1}" if k else ""), question=t["question"], article=t.get("article"),
                evidence=t.get("evidence"), answer=tuple(answer), abstain=bool(t.get("abstain")),
                kind=t.get("kind"), answers=tuple(answers), article_ids=article_ids,
                members=tuple(t.get("members") or ()))


PARTS = ("all", "tuning", "reporting")


def part_of(conversation: list[Item]) -> str:
    """"tuning" or "reporting", by the article the conversation starts on (half of them each, by hash).

    Every weight and threshold is fitted on tuning parts only; the figures quoted are the reporting
    part's. XQuAD's paragraphs ("xq07-3") go with their Wikipedia article ("xq07"), so no article is
    on both sides; a question without an article (an abstention) is placed by its id.
    """
    first = conversation[0]
    return part_of_key(re.sub(r"-\d+$", "", first.article) if first.article else first.id)


def part_of_key(key: str) -> str:
    """"tuning" or "reporting" for what a set is split by (an article, a story, a title): half each, by hash."""
    return "reporting" if int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "tuning"


def select_part(conversations: list[list[Item]], part: str) -> list[list[Item]]:
    if part not in PARTS:
        raise BadQuestionsFile(f"unknown part {part!r}: choose from {', '.join(PARTS)}")
    chosen = [c for c in conversations if part == "all" or part_of(c) == part]
    if not chosen:
        raise BadQuestionsFile(f"the {part} part of these questions is empty")
    return chosen


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def supports(item: Item, citation) -> bool:
    return (citation.article_id == item.article and item.evidence is not None
            and normalise(item.evidence) in normalise(citation.quote))


def evaluate(engine: Engine, conversations: list[list[Item]], restrict: bool = True, **ask_options) -> Report:
    """Ask every conversation in turn. With `restrict`, a conversation that names its articles is asked over
    those alone (as CoQA is, story given); without, over the whole corpus (searched openly)."""
    times: list[float] = []
    answered: list[tuple[Item, Answer, bool]] = []
    engine.warm_up()  # load the models before the clock starts
    for conversation in conversations:
        history: list[Turn] = []
        for k, item in enumerate(conversation):
            started = time.perf_counter()
            only = {"article_ids": item.article_ids} if restrict and item.article_ids else {}
            answer = ask(engine, item.question, history, **only, **ask_options)
            times.append(time.perf_counter() - started)
            history.append(answer.as_turn())
            answered.append((item, answer, k > 0))
    figures = score(answered)
    times.sort()
    figures.update(
        ask_p50_ms=round(1000 * times[len(times) // 2], 1),
        ask_p95_ms=round(1000 * times[min(len(times) - 1, int(0.95 * len(times)))], 1),
    )
    return Report(figures, [m for item, answer, _ in answered if (m := _miss(item, answer))])


def score(answered: list[tuple[Item, Answer, bool]]) -> dict:
    """The figures of (item, answer, is a follow-up) triples: each figure the mean over the turns it applies to."""
    sums = collections.defaultdict(float)
    counts = collections.Counter()
    for item, answer, followup in answered:
        for name, value in _score(item, answer, followup).items():
            sums[name] += value
            counts[name] += 1
    figures = {name: round(sums[name] / counts[name], 4) for name in sorted(counts)}
    figures.update(questions=len(answered), counts=dict(sorted(counts.items())))
    return figures


def _score(item: Item, answer: Answer, followup: bool) -> dict[str, float]:
    if item.abstain:
        return {"abstain_rate": float(answer.abstained and not answer.citations)}
    prefix = "followup_" if followup else ""
    ranks = [n for n, c in enumerate(answer.citations[:10], start=1) if supports(item, c)]
    out = {f"{prefix}hit@3": float(bool(ranks) and ranks[0] <= 3)}
    if not followup:
        out.update({"hit@1": float(bool(ranks) and ranks[0] == 1), "mrr@10": 1.0 / ranks[0] if ranks else 0.0})
    out[f"{prefix}false_abstain"] = float(answer.abstained)
    if answer.citations and item.article:
        out[f"{prefix}article@1"] = float(answer.citations[0].article_id == item.article)
    if item.answers:
        out.update(coqa_scores(item.kind, item.answers, answer.span, answer.abstained, followup))
    if item.answer:
        text = answer.text.lower()
        out[f"{prefix}answer_hit"] = float(all(a.lower() in text for a in item.answer))
        if is_short(item.answer) and not item.members:  # a set's members are not alternative answers
            # SQuAD's way: the best over the gold answers, after its normalisation. span_exact_all and
            # span_f1_all are over every short answer; span_exact and span_f1 over the questions that
            # ask for a person, place, organisation, date, number or amount.
            exact = max(float(squad_normalise(answer.span or "") == squad_normalise(t)) for t in item.answer)
            f1 = max(token_f1(answer.span or "", t) for t in item.answer)
            out.update(span_exact_all=exact, span_f1_all=f1)
            if answer_type(item.question):
                out.update(span_exact=exact, span_f1=f1)
    if item.members and not followup:
        out.update(list_figures(item, answer))
    return out


def _miss(item: Item, answer: Answer) -> dict | None:
    if item.abstain:
        ok = answer.abstained
    else:
        ok = (any(supports(item, c) for c in answer.citations[:1])
              and all(a.lower() in answer.text.lower() for a in item.answer))
    if ok:
        return None
    return {
        "id": item.id, "question": item.question, "expected": item.article if not item.abstain else "abstain",
        "evidence": item.evidence, "answer": list(item.answer), "got": answer.text, "span": answer.span,
        "cited": [f"[{c.n}] {c.passage_id}" for c in answer.citations], "abstained": answer.abstained,
    }
