"""Text -> vectors through ONNX Runtime: the sentence-transformers model exported once from its local weights."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from retrieval.embed import DEFAULT_MODEL, resolve_model_path
from retrieval.errors import CiteqaError

log = logging.getLogger(__name__)

OPSET = 17
# Bump when the export itself changes (wrapper, inputs, opset): every cached file is then rebuilt.
EXPORT_FORMAT = 1
# The weights and the exporters an exported file depends on: any change gives a new cache key.
_KEY_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json")
_KEY_PACKAGES = ("torch", "transformers", "onnx")
# An export must reproduce torch's vectors this closely on the probe texts, or it is not published.
MIN_PROBE_COSINE = 0.99999
_PROBE = ["Who presided over the meeting?", "The council met on Tuesday; the mayor presided and the budget passed."]
# Calls with this many texts or fewer (a question) run on one intra-op thread: on a shared
# two-core machine that is as fast as two for one short text and far steadier (benchmarks/onnx_embedder.py).
SMALL_CALL = 4


class OnnxExportFailed(CiteqaError):
    """The model could not be exported to ONNX, or the export disagreed with torch."""


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
            out[rows] = _run(session, loaded.inputs, [encodings[i] for i in rows])
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
                loaded.sessions[kind] = _session(loaded.path, self.threads)
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
            session = _session(path, 1)
        except Exception as err:  # onnxruntime raises its own untyped errors for a file it cannot parse
            log.warning("ONNX Runtime cannot load %s (%s): exporting it again", path, err)
            path.with_suffix(".json").unlink(missing_ok=True)
            path = ensure_exported(model_dir, cache_dir)
            session = _session(path, 1)
        return cls(path, session, load_tokenizer(model_dir), _dimension(model_dir))


def _run(session, inputs: list[str], encodings) -> np.ndarray:
    feed = _feed(inputs, encodings)
    return _pool(session.run(None, feed)[0], feed["attention_mask"])


def _feed(names: list[str], encodings) -> dict[str, np.ndarray]:
    # Pads with 0, BERT's pad id; the attention mask keeps padding out of the mean.
    width = max(len(e.ids) for e in encodings)
    feed = {n: np.zeros((len(encodings), width), dtype=np.int64) for n in names}
    for row, e in enumerate(encodings):
        feed["input_ids"][row, :len(e.ids)] = e.ids
        feed["attention_mask"][row, :len(e.ids)] = e.attention_mask
        if "token_type_ids" in feed:
            feed["token_type_ids"][row, :len(e.ids)] = e.type_ids
    return feed


def _pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling then Normalize, in float32."""
    mask = attention_mask[..., None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    means = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.clip(norms, 1e-12, None)).astype(np.float32)


def load_tokenizer(model_dir: Path):
    """The folder's fast tokenizer, truncated to the model's max_seq_length, with no padding of its own."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=_max_seq_length(model_dir))
    return tokenizer


def _max_seq_length(model_dir: Path) -> int:
    config = _read_json(model_dir / "sentence_bert_config.json")
    if config.get("max_seq_length"):
        return int(config["max_seq_length"])
    return int(_read_json(model_dir / "config.json").get("max_position_embeddings", 512))


def _dimension(model_dir: Path) -> int:
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes and modes != ["pooling_mode_mean_tokens"]:
        raise OnnxExportFailed(f"the onnx backend pools by mean only; {model_dir} pools by {', '.join(modes)}")
    return int(pooling.get("word_embedding_dimension") or _read_json(model_dir / "config.json")["hidden_size"])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _session(path: Path, threads: int | None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: its warnings about unused initializers are noise
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# The cache: one file per key, with a sidecar recording its digest.

def cache_key(model_dir: Path) -> str:
    """Model folder, its weight files (size, mtime) and the exporters' versions: a new key whenever any changes."""
    files = {}
    for name in _KEY_FILES:
        try:
            stat = (model_dir / name).stat()
        except FileNotFoundError:
            continue
        files[name] = [stat.st_size, stat.st_mtime_ns]
    packages = {name: _version(name) for name in _KEY_PACKAGES}
    record = {"model": str(model_dir.resolve()), "files": files, "packages": packages,
              "opset": OPSET, "format": EXPORT_FORMAT}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:20]


def ensure_exported(model_dir: Path, cache_dir: Path) -> Path:
    """The path of a checked ONNX export of `model_dir` in `cache_dir`, exporting it first if needed."""
    path = cache_dir / f"{model_dir.name}-{cache_key(model_dir)}.onnx"
    if is_intact(path):
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(cache_dir / ".lock"):
        if is_intact(path):  # another process exported it while we waited
            return path
        if path.exists():
            log.warning("ONNX cache %s is damaged or incomplete: exporting it again", path)
        for leftover in cache_dir.glob(".tmp-*"):  # an export that died; none runs while we hold the lock
            leftover.unlink(missing_ok=True)
        export(model_dir, path)
        _prune(cache_dir, model_dir, keep=path)
    return path


def _prune(cache_dir: Path, model_dir: Path, keep: Path) -> None:
    """Drop this model's exports under older keys (90 MB each); a process using one has it in memory already."""
    for sidecar in cache_dir.glob(f"{model_dir.name}-*.json"):
        if sidecar.stem != keep.stem and (_read_sidecar(sidecar.with_suffix(".onnx")) or {}).get("model") == str(model_dir):
            sidecar.with_suffix(".onnx").unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)


def is_intact(path: Path) -> bool:
    """The file is whole: its size and SHA-256 are the ones recorded when it was written."""
    sidecar = _read_sidecar(path)
    if sidecar is None or not path.is_file() or path.stat().st_size != sidecar.get("bytes"):
        return False
    return _sha256(path) == sidecar.get("sha256")


def _read_sidecar(path: Path) -> dict | None:
    try:
        sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return sidecar if isinstance(sidecar, dict) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Several processes (server, bot, refresh) may start at once: one exports, the others wait and reuse it.

    The kernel drops the lock when its process dies, so a crashed export never wedges the cache."""
    with open(lock_path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def export(model_dir: Path, path: Path) -> None:
    """Export the transformer to `path` (atomically, with its sidecar), checked against torch on probe texts."""
    import warnings

    import torch
    from transformers import AutoModel

    tokenizer = load_tokenizer(model_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's and the deprecated exporter's warnings: checked below instead
        model = AutoModel.from_pretrained(str(model_dir)).eval()
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
                 if n in _forward_parameters(model)]
        encodings = tokenizer.encode_batch(_PROBE)
        feed = _feed(names, encodings)
        wrapper = _last_hidden_state(model, names)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=path.parent)
        os.close(fd)
        try:
            with torch.no_grad():
                expected = _pool(wrapper(*(torch.from_numpy(feed[n]) for n in names)).numpy(), feed["attention_mask"])
                axes = {0: "batch", 1: "sequence"}
                torch.onnx.export(wrapper, tuple(torch.from_numpy(feed[n]) for n in names), tmp,
                                  input_names=names, output_names=["last_hidden_state"],
                                  dynamic_axes={n: axes for n in names + ["last_hidden_state"]},
                                  opset_version=OPSET, do_constant_folding=True, dynamo=False)
            got = _run(_session(Path(tmp), 1), names, encodings)
            cosine = float((got * expected).sum(axis=1).min())
            if cosine < MIN_PROBE_COSINE:
                raise OnnxExportFailed(f"the ONNX export of {model_dir} disagrees with torch (cosine {cosine:.6f})")
            _publish(Path(tmp), path, {"bytes": Path(tmp).stat().st_size, "sha256": _sha256(Path(tmp)),
                                       "model": str(model_dir), "opset": OPSET, "probe_cosine": cosine,
                                       "packages": {n: _version(n) for n in _KEY_PACKAGES + ("onnxruntime",)}})
        except OnnxExportFailed:
            raise
        except Exception as err:
            raise OnnxExportFailed(f"exporting {model_dir} to ONNX failed: {err}") from err
        finally:
            Path(tmp).unlink(missing_ok=True)
    log.info("exported %s to %s (probe cosine to torch %.7f)", model_dir, path, cosine)


def _publish(tmp: Path, path: Path, sidecar: dict) -> None:
    # The model first, then its sidecar: a reader that sees the new sidecar sees the new model too,
    # and any other interleaving fails the digest check and is rebuilt, never used.
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from a server running as another user
    fd, tmp_sidecar = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp_sidecar, 0o644)
    os.replace(tmp, path)
    os.replace(tmp_sidecar, path.with_suffix(".json"))


def _forward_parameters(model) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _last_hidden_state(model, names: list[str]):
    """The transformer with positional inputs and one output, as the exporter wants it."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(**dict(zip(names, tensors))).last_hidden_state

    return LastHiddenState()
