"""The HTTP API's request and response bodies: pydantic at the edge, built from the library's records."""

from __future__ import annotations

import datetime
import unicodedata
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from retrieval.question.wording import MAX_QUESTION_CHARS
from retrieval.types import Answer, Article, Passage

CONVERSATION_ID = dict(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
                       description="letters, digits and _ . : - (at most 100)")
ConversationId = Annotated[str, Field(**CONVERSATION_ID)]


def _readable_character() -> str:
    """A pattern for one character that `clean_question` keeps: not a space, a control or a format character.

    The schema then says exactly which questions are accepted, so a schema-valid question is never refused.
    """
    # Spaces, controls and format characters all lie in planes 0, 1 and 14: scanning those is 8x faster.
    planes = [*range(0x20000), *range(0xE0000, 0xF0000)]
    blank = [c for c in planes if chr(c).isspace()
             or (unicodedata.category(chr(c)) in ("Cc", "Cf") and chr(c) != "\u200d")]
    ranges, start = [], blank[0]
    for previous, c in zip(blank, blank[1:] + [None]):
        if c != previous + 1:
            ranges.append((start, previous))
            start = c
    escape = lambda c: f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"  # noqa: E731
    return "[^" + "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in ranges) + "]"


READABLE = _readable_character()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskIn(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=READABLE,
                          description=f"1 to {MAX_QUESTION_CHARS} characters, not all of them spaces",
                          examples=["Who presided over the special meeting on IP protection?"])
    conversation_id: ConversationId | None = Field(
        None, description="continue this conversation; without one, a new conversation is started")
    top_k: int = Field(3, ge=1, le=10, description="passages the answer may draw on")
    article_ids: list[Annotated[str, Field(min_length=1, max_length=300)]] | None = Field(
        None, max_length=1000, description="search only these articles")
    published_after: datetime.date | None = Field(None, description="search only articles published on or after")
    published_before: datetime.date | None = Field(
        None, description="search only articles published on or before (a range that holds no article answers nothing)")


class SentenceOut(BaseModel):
    start: int
    end: int


class CitationOut(BaseModel):
    n: int
    article_id: str
    title: str
    passage_id: str
    quote: str = Field(description="the passage's text")
    start: int = Field(description="where the passage starts in the article's text (characters)")
    end: int
    score: float
    sentences: list[SentenceOut] = Field(
        description="the sentences the answer quotes from this passage: offsets in the article's text, as GET /v1/articles/{id} returns it")
    url: str | None = Field(None, description="where the article came from (a fetched or saved web page), when known")
    published: str | None = Field(None, description="the article's publication date (ISO), when known")
    sources: list[str] = Field([], description="the same story's other URLs (wire copies), when known")


class MemberOut(BaseModel):
    text: str
    article_id: str
    start: int = Field(description="where the member starts in the article's text (characters)")
    end: int


class AskOut(BaseModel):
    question: str
    text: str = Field(description="the answer: sentences from the articles, each followed by [n]")
    span: str | None = Field(description="the short answer inside the text, when there is one")
    citations: list[CitationOut]
    abstained: bool = Field(description="true when the articles do not answer the question")
    members: list[MemberOut] = Field(
        default_factory=list, description="a set question's every member, as the span lists them, with offsets in "
                                          "its article's text; empty for any other answer")
    conversation_id: str
    turn: int = Field(description="this answer's number in the conversation (for feedback)")
    new_conversation: bool = Field(
        False, description="true when this question started the conversation: no conversation_id was given, or the "
                           "one given was unknown or had expired (then `notice` says which), so it read no history")
    notice: str | None = Field(
        None, description="why a given conversation_id started afresh (unknown, or expired), to show the user")
    search_query: str
    index_version: str
    seconds: float

    @classmethod
    def build(cls, answer: Answer, conversation_id: str, turn: int, seconds: float, new_conversation: bool = False,
              notice: str | None = None) -> "AskOut":
        return cls(question=answer.question, text=answer.text, span=answer.span, abstained=answer.abstained,
                   citations=[CitationOut.model_validate(c, from_attributes=True) for c in answer.citations],
                   members=[MemberOut.model_validate(m, from_attributes=True) for m in answer.members],
                   conversation_id=conversation_id, turn=turn, new_conversation=new_conversation, notice=notice,
                   search_query=answer.search_query, index_version=answer.index_version, seconds=round(seconds, 4))


class ArticleSummary(BaseModel):
    id: str
    title: str
    date: str | None = Field(description="the date as the article states it")
    published: str | None = Field(description="ISO date: the page's or the feed's, else the text's when it has a year")
    passages: int

    @classmethod
    def build(cls, article: Article, passages: int) -> "ArticleSummary":
        return cls(id=article.id, title=article.title, date=article.date, published=article.published,
                   passages=passages)


class ArticleSource(BaseModel):
    url: str | None = Field(description="the page the article was read from, when it came from the web")
    author: str | None = None
    site: str | None = None
    sources: list[str] = Field(description="the same story's other URLs (wire copies not kept)")


class ArticleList(BaseModel):
    index_version: str
    total: int
    articles: list[ArticleSummary]


class PassageOut(BaseModel):
    id: str
    article_id: str
    title: str
    start: int
    end: int
    text: str
    date: str | None

    @classmethod
    def build(cls, passage: Passage) -> "PassageOut":
        return cls(id=passage.id, article_id=passage.article_id, title=passage.title, start=passage.start,
                   end=passage.end, text=passage.text, date=passage.date)


class PassageSpan(BaseModel):
    id: str
    start: int
    end: int


class ArticleOut(ArticleSummary, ArticleSource):
    text: str = Field(description="the article's text; every start and end points into it")
    spans: list[PassageSpan] = Field(description="where each of its passages lies in the text")


class FeedbackIn(Strict):
    conversation_id: ConversationId
    turn: int = Field(ge=1, le=1_000_000)
    helpful: bool
    comment: str | None = Field(None, max_length=2000)


class Ready(BaseModel):
    status: str
    index_version: str
    articles: int
    passages: int
    model: str


class Error(BaseModel):
    detail: str
    errors: list[dict] | None = Field(None, description="for 422: each field that was refused, and why")


# The 404 response a route that looks something up documents.
NOT_FOUND = {404: {"model": Error, "description": "not found"}}


class FailureOut(BaseModel):
    url: str
    reason: str
    transient: bool = Field(description="whether the next refresh tries it again")


class DuplicateOut(BaseModel):
    url: str
    of: str = Field(description="the id of the article it copies")
    similarity: float = Field(description="MinHash containment; 1.0 for the same URL listed by another feed")


class FeedOut(BaseModel):
    """One feed of a refresh's feeds step (retrieval.web.report.FeedReport)."""

    feed: str
    seen: int = Field(description="entries the feed lists now")
    new: int = Field(description="entries never seen before")
    retried: int = Field(description="earlier failures tried again")
    fetched: int = Field(description="pages that answered with a body")
    written: list[str] = Field(description="the article ids written into the corpus folder")
    failed: list[FailureOut] = Field(description="each page that failed, with why")
    duplicates: list[DuplicateOut] = Field(description="each entry skipped as a copy of an article kept")
    error: str | None = Field(description="why the feed itself could not be read (its URL included)")
    not_modified: bool
    seconds: float

    @classmethod
    def build(cls, report) -> "FeedOut":
        """From a retrieval.web.report.FeedReport."""
        return cls(feed=report.feed, seen=report.seen, new=report.new, retried=report.retried, fetched=report.fetched,
                   written=list(report.written),
                   failed=[FailureOut(url=f.url, reason=f.reason, transient=f.transient) for f in report.failed],
                   duplicates=[DuplicateOut(url=d.url, of=d.of, similarity=round(d.similarity, 3))
                               for d in report.duplicates],
                   error=report.error, not_modified=report.not_modified, seconds=round(report.seconds, 3))


class CollectOut(BaseModel):
    """The feeds step of a refresh: each feed, the lines of feeds.txt that are not a feed, and the report as text."""

    feeds: list[FeedOut]
    bad_lines: list[str]
    notes: list[str]
    report: str = Field(description="the same report `citeqa refresh` prints")
