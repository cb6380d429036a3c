"""Text -> vectors through ONNX Runtime: the sentence-transformers model exported once from its local weights."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from retrieval.embed.embedders import DEFAULT_MODEL, resolve_model_path
from retrieval.embed.onnx_export import ensure_exported
from retrieval.embed.onnx_runtime import OnnxExportFailed, embed_pooled, load_tokenizer, model_dimension, open_session

log = logging.getLogger(__name__)

# Calls with this many texts or fewer (a question) run on one intra-op thread: on a shared
# two-core machine that is as fast as two for one short text and far steadier (benchmarks/onnx_embedder.py).
SMALL_CALL = 4


class OnnxEmbedder:
    """The same vectors as SentenceTransformerEmbedder (cosine >= 0.99999), computed by ONNX Runtime.

    The first use exports the local model to `cache_dir` (a few seconds, torch needed then only);
    later processes load the cached file, checked against its recorded digest, so a partial or
    corrupt file is rebuilt rather than used. Tokenisation (the model folder's fast tokenizer,
    truncated to the model's max_seq_length), mean pooling over the attention mask and L2
    normalisation are the model's own sentence-transformers pipeline. Its `name` is the model's,
    as the torch embedder's: the vectors agree to within 1e-5 cosine, so an index built by one
    serves the other.
    """

    def __init__(self, model: str = DEFAULT_MODEL, cache_dir: Path = Path(".citeqa/onnx"),
                 threads: int | None = None):
        self.name = model
        self.cache_dir = Path(cache_dir)
        self.threads = threads  # intra-op threads of batch calls; None: ONNX Runtime's default
        self.texts_encoded = 0
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    @property
    def model_dir(self) -> Path:
        path = Path(resolve_model_path(self.name))
        if not path.is_dir():
            raise OnnxExportFailed(f"the onnx backend needs a local model folder; {self.name!r} is not one")
        return path

    @property
    def dimension(self) -> int:
        return self._load().dimension

    @property
    def model_file(self) -> Path:
        """The cached ONNX file, exported now if it is missing, stale or damaged."""
        return self._load().path

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        loaded = self._load()
        if not len(texts):
            return np.zeros((0, loaded.dimension), dtype=np.float32)
        small = len(texts) <= SMALL_CALL
        session = self._session("small" if small else "batch")
        cleaned = [str(t).strip() for t in texts]  # as sentence-transformers' Transformer module does
        # A question is tokenised in this thread: encode_batch would wake the tokenizer's thread pool for it.
        encodings = [loaded.tokenizer.encode(t) for t in cleaned] if small else loaded.tokenizer.encode_batch(cleaned)
        out = np.empty((len(texts), loaded.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers does: batches of similar lengths carry little padding.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        step = max(1, batch_size)
        for start in range(0, len(order), step):
            rows = order[start:start + step]
            out[rows] = embed_pooled(session, loaded.inputs, [encodings[i] for i in rows])
        self.texts_encoded += len(texts)
        return out

    def _load(self) -> "_Loaded":
        with self._lock:
            if self._loaded is None:
                self._loaded = _Loaded.open(self.model_dir, self.cache_dir)
            return self._loaded

    def _session(self, kind: str):
        loaded = self._load()
        with self._lock:
            if kind not in loaded.sessions:
                loaded.sessions[kind] = open_session(loaded.path, self.threads)
            return loaded.sessions[kind]


class _Loaded:
    """What every call needs: the checked ONNX file and its sessions, its input names, the tokenizer."""

    def __init__(self, path: Path, session, tokenizer, dimension: int):
        self.path, self.tokenizer, self.dimension = path, tokenizer, dimension
        self.sessions = {"small": session}
        self.inputs = [i.name for i in session.get_inputs()]

    @classmethod
    def open(cls, model_dir: Path, cache_dir: Path) -> "_Loaded":
        path = ensure_exported(model_dir, cache_dir)
        try:
            session = open_session(path, 1)
        except Exception as err:  # onnxruntime raises its own untyped errors for a file it cannot parse
            log.warning("ONNX Runtime cannot load %s (%s): exporting it again", path, err)
            path.with_suffix(".json").unlink(missing_ok=True)
            path = ensure_exported(model_dir, cache_dir)
            session = open_session(path, 1)
        return cls(path, session, load_tokenizer(model_dir), model_dimension(model_dir))
