"""Where each cited article came from: its URL, publication date and other sources, put on the citations."""

from __future__ import annotations

import dataclasses
import logging

from retrieval.index.protocol import Articles
from retrieval.types import Answer

log = logging.getLogger(__name__)


def with_sources(answer: Answer, articles: Articles) -> Answer:
    """`answer` with each citation's url, published and sources from its article's record (one read an
    article, cached by the store); a record that cannot be read leaves them empty and the answer standing."""
    if not answer.citations:
        return answer
    cited = []
    for c in answer.citations:
        try:
            a = articles[c.article_id]
        except (KeyError, ValueError, OSError) as err:  # pruned under a slow question, or a damaged record
            log.warning("no source for %s: %s", c.article_id, err)
            cited.append(c)
            continue
        cited.append(dataclasses.replace(c, url=a.url, published=a.published, sources=a.sources))
    return dataclasses.replace(answer, citations=tuple(cited))
