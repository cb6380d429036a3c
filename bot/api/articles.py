"""The routes that read the index: the articles, one article with its passages' places, one passage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from bot.api.schemas import NOT_FOUND, ArticleList, ArticleOut, ArticleSummary, PassageOut, PassageSpan

router = APIRouter(tags=["articles"])


@router.get("/v1/articles", response_model=ArticleList)
def articles(request: Request, offset: Annotated[int, Query(ge=0)] = 0,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ArticleList:
    """The indexed articles, in id order."""
    index = request.app.state.engine.index
    page = sorted(index.articles)[offset:offset + limit]
    return ArticleList(index_version=index.name, total=len(index.articles), articles=[
        ArticleSummary.build(index.articles[a], len(index.passages_of(a))) for a in page])

@router.get("/v1/articles/{article_id:path}", response_model=ArticleOut, responses=NOT_FOUND)
def article(article_id: str, request: Request) -> ArticleOut:
    """One article with its text and where each of its passages lies in it."""
    index = request.app.state.engine.index
    if article_id not in index.articles:
        raise HTTPException(404, "no such article")
    spans = [PassageSpan(id=p.id, start=p.start, end=p.end) for p in index.passages_of(article_id)]
    found = index.articles[article_id]
    summary = ArticleSummary.build(found, len(spans))
    return ArticleOut(**summary.model_dump(), url=found.url, author=found.author, site=found.site,
                      sources=list(found.sources), text=found.text, spans=spans)

@router.get("/v1/passages/{passage_id:path}", response_model=PassageOut, responses=NOT_FOUND)
def passage(passage_id: str, request: Request) -> PassageOut:
    """One passage (ids look like `<article id>#<n>`: send the # as %23)."""
    found = request.app.state.engine.index.passage(passage_id)
    if found is None:
        raise HTTPException(404, "no such passage")
    return PassageOut.build(found)
