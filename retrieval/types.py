"""The frozen records that flow between stages: Article -> Passage -> Hit -> Citation -> Answer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Article:
    """One article file. `text` is the file's text exactly as decoded; every offset points into it."""

    id: str
    title: str
    text: str
    sha256: str
    # (start, end) character ranges of `text` that are article prose: the title line and
    # boilerplate (navigation menus and the like) are outside them, so they can never be cited.
    sections: tuple[tuple[int, int], ...]
    date: str | None = None  # as the text states it: "July 22, 2015", "April 23"
    published: str | None = None  # ISO date: the page's or the feed's; else the text's, when it has a year
    path: str = ""
    # Where a fetched or saved web page came from (its article file's header, or the page itself).
    url: str | None = None
    author: str | None = None
    site: str | None = None
    # The URLs of the same story kept elsewhere (wire copies collect did not keep), from the feeds' ledger.
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Passage:
    """A window of whole sentences; `article.text[start:end] == text`."""

    id: str  # "<article_id>#<n>"
    row: int  # stable integer id in the vector index; never reused for other text
    article_id: str
    title: str
    start: int
    end: int
    text: str
    date: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    passage: Passage
    score: float  # the ranking score of the retriever that produced it (higher is better)
    dense: float | None = None  # cosine of question and passage, when known


@dataclass(frozen=True, slots=True)
class SentenceRange:
    """Character offsets of one quoted sentence in its article's text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    article_id: str
    title: str
    passage_id: str
    quote: str
    start: int
    end: int
    score: float
    # Exactly the sentences the answer quotes from this passage, in the article's offsets.
    sentences: tuple[SentenceRange, ...] = ()
    # Where the article came from, from its record (retrieval.answer.sources.with_sources).
    url: str | None = None
    published: str | None = None
    sources: tuple[str, ...] = ()  # the same story's other URLs (wire copies)


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a set answer ("Wang Hong" of the officials who joined), in its article's offsets."""

    text: str
    article_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a conversation, as much of it as a follow-up needs."""

    question: str
    answer: str = ""
    article_ids: tuple[str, ...] = ()  # the articles its answer cited, first cited first
    search_query: str = ""
    span: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    span: str | None = None
    search_query: str = ""  # the question as searched, with any follow-up context carried in
    index_version: str = ""
    details: dict = field(default_factory=dict, compare=False)
    # A set question's members, each once, in the order the span lists them; empty for any other answer.
    members: tuple[Member, ...] = ()

    def as_turn(self) -> Turn:
        return Turn(
            question=self.question,
            answer=self.text,
            article_ids=tuple(dict.fromkeys(c.article_id for c in self.citations)),
            search_query=self.search_query,
            span=self.span,
        )
