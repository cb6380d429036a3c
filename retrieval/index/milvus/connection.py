"""Reaching Milvus: one clear line for each way a connection fails (no file, no server, a refused token)."""

from __future__ import annotations

import socket
import urllib.parse


def first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def unreachable(uri: str, err: Exception, with_token: bool) -> str:
    if uri.endswith(".db"):
        if "Open local milvus failed" in str(err):
            return (f"CITEQA_STORE_URI={uri}: cannot open the milvus-lite file (another process has it open? milvus-lite "
                    f"serves one process: refresh through the server's /v1/admin/refresh, or use a Milvus server)")
    elif listening(uri):
        # pymilvus reports a refused token as it reports a dead server; something that accepts the
        # connection and then refuses the handshake is most likely asking for credentials.
        token = ("it refused CITEQA_STORE_TOKEN (user:password or an API key)" if with_token else
                 "it may need a token: set CITEQA_STORE_TOKEN (user:password or an API key)")
        return f"CITEQA_STORE_URI={uri}: a server answers but the connection was refused: {token} ({first_line(err)})"
    return f"CITEQA_STORE_URI={uri}: cannot reach Milvus ({type(err).__name__}: {first_line(err)})"


def listening(uri: str) -> bool:
    """Whether something accepts TCP connections at the URI's host and port."""
    parts = urllib.parse.urlsplit(uri)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 19530)
        with socket.create_connection((parts.hostname or "localhost", port), timeout=2):
            return True
    except (OSError, ValueError):
        return False

