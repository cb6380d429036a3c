"""What Milvus holds for citeqa: the three collections' schemas and indexes, and the rows written into them."""

from __future__ import annotations

import numpy as np

from retrieval.articles.sentences import sentences_with_terms
from retrieval.index import ivf
from retrieval.index.bm25 import EMPTY, heading_terms
from retrieval.question.spelling import names_in
from retrieval.types import Article, Passage

PIECE = 15_000  # characters of article text a row: at most 60,000 bytes of UTF-8, under VARCHAR's 65,535
TEXT_BYTES = 65_535
BM25 = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, which the file store uses
PASSAGE_FIELDS = ["id", "row", "article_id", "title", "date", "start", "end", "text", "sentences"]


def meta_collection(client):
    """(schema, index) of `<prefix>_meta`: one JSON value a key."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("value", DataType.JSON)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field in every collection
    index = client.prepare_index_params()
    index.add_index("unused", index_type="FLAT", metric_type="L2")
    return schema, index


def passages_collection(client, dimension: int, dense_index: str, passages: int):
    """(schema, index) of a generation's passages: text, sentences, BM25 terms (Milvus's BM25 function), vector."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=1024)
    schema.add_field("row", DataType.INT64)
    schema.add_field("n", DataType.INT64)
    schema.add_field("article_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("title", DataType.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("date", DataType.VARCHAR, max_length=256)
    schema.add_field("published", DataType.VARCHAR, max_length=16)  # ISO date or "": filters compare it as text
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("sentences", DataType.JSON)
    schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True,
                     analyzer_params={"tokenizer": "whitespace"})
    schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(dimension))
    schema.add_function(Function(name="terms_bm25", function_type=FunctionType.BM25,
                                 input_field_names=["terms"], output_field_names=["bm25"]))
    index = client.prepare_index_params()
    kind = ivf.resolve(dense_index, passages)
    if kind == "flat":
        index.add_index("vector", index_type="FLAT", metric_type="IP")
    else:
        index.add_index("vector", index_type="IVF_FLAT", metric_type="IP",
                        params={"nlist": max(1, min(4096, int(4 * passages ** 0.5)))})
    index.add_index("bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25)
    index.add_index("article_id", index_type="INVERTED")
    index.add_index("row", index_type="INVERTED")
    return schema, index


def articles_collection(client):
    """(schema, index) of a generation's articles: text in pieces, the first carrying the article's record."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1100)
    schema.add_field("article_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("k", DataType.INT64)
    schema.add_field("piece", DataType.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("meta", DataType.JSON)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index("unused", index_type="FLAT", metric_type="L2")
    return schema, index


def passage_row(p: Passage, vector: np.ndarray, article: Article) -> dict:
    sentences = [(s, e, tuple(t)) for s, e, t in sentences_with_terms(p.text)]
    body = [t for _, _, sentence_terms in sentences for t in sentence_terms]
    bm25_terms = heading_terms(p.title, p.date) + body or [EMPTY]
    return {"id": p.id, "row": p.row, "n": int(p.id.rpartition("#")[2]), "article_id": p.article_id, "title": p.title,
            "date": p.date or "", "published": article.published or "", "start": p.start, "end": p.end, "text": p.text,
            "sentences": [[s, e, " ".join(t)] for s, e, t in sentences], "terms": " ".join(bm25_terms),
            "vector": np.asarray(vector, dtype=np.float32).tolist()}


def article_rows(article: Article, own: list[tuple[Passage, np.ndarray]]) -> list[dict]:
    """The article's text in pieces that fit a VARCHAR, the first carrying its record (hash, names, sections)."""
    names = sorted(names_in([p.text for p, _ in own]))
    pieces = [article.text[i:i + PIECE] for i in range(0, max(1, len(article.text)), PIECE)]
    meta = {"sha256": article.sha256, "title": article.title, "date": article.date, "published": article.published,
            "path": article.path, "sections": [list(s) for s in article.sections], "names": names,
            "url": article.url, "author": article.author, "site": article.site, "sources": list(article.sources),
            "pieces": len(pieces)}
    return [{"key": f"{article.id}:{k}", "article_id": article.id, "k": k, "piece": piece,
             "meta": meta if k == 0 else {}, "unused": [0.0, 0.0]} for k, piece in enumerate(pieces)]


def vector_dimension(description: dict) -> int | None:
    for field in description.get("fields", []):
        if field.get("name") == "vector":
            return int(field.get("params", {}).get("dim", 0))
    return None


