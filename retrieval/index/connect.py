"""Which store the settings name: file versions, a milvus-lite file or a Milvus server.

    CITEQA_STORE_URI unset     the versions under CITEQA_INDEX (retrieval.index.files), FAISS and bm25s
    ....db                     an embedded milvus-lite file (retrieval.index.milvus)
    http(s)://host:port        a Milvus server or cluster, CITEQA_STORE_TOKEN its token
"""

from __future__ import annotations

from pathlib import Path

from retrieval.errors import StoreUnavailable
from retrieval.index.files.store import FileStore
from retrieval.index.milvus.store import MilvusStore
from retrieval.index.protocol import Store


def open_store(index_dir: Path, uri: str | None = None, token: str | None = None) -> Store:
    """The store the settings choose (see the module's docstring)."""
    if not uri:
        return FileStore(Path(index_dir))
    if uri.endswith(".db") or uri.startswith(("http://", "https://")):
        return MilvusStore(uri, token)
    raise StoreUnavailable(f"CITEQA_STORE_URI={uri!r} is neither a milvus-lite file (….db) nor http(s)://host:port")
