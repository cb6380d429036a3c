"""Export the sentence-transformers model to ONNX once, check it against torch, and cache it safely.

The cache holds one file per key (the weights, the exporters' versions), with a sidecar recording its
digest; a file that fails the digest or will not load is rebuilt, never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Iterator

from filelock import FileLock

from retrieval.embed.onnx_runtime import (OnnxExportFailed, embed_pooled, load_tokenizer, mean_pool, model_inputs,
                                     open_session)
from retrieval.checksums import sha256_file

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
    return sha256_file(path) == sidecar.get("sha256")


def _read_sidecar(path: Path) -> dict | None:
    try:
        sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return sidecar if isinstance(sidecar, dict) else None


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Several processes (server, bot, refresh) may start at once: one exports, the others wait and reuse it.

    The kernel drops the lock when its process dies, so a crashed export never wedges the cache."""
    with FileLock(lock_path):
        yield


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
        feed = model_inputs(names, encodings)
        wrapper = _last_hidden_state(model, names)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=path.parent)
        os.close(fd)
        try:
            with torch.no_grad():
                expected = mean_pool(wrapper(*(torch.from_numpy(feed[n]) for n in names)).numpy(), feed["attention_mask"])
                axes = {0: "batch", 1: "sequence"}
                torch.onnx.export(wrapper, tuple(torch.from_numpy(feed[n]) for n in names), tmp,
                                  input_names=names, output_names=["last_hidden_state"],
                                  dynamic_axes={n: axes for n in names + ["last_hidden_state"]},
                                  opset_version=OPSET, do_constant_folding=True, dynamo=False)
            got = embed_pooled(open_session(Path(tmp), 1), names, encodings)
            cosine = float((got * expected).sum(axis=1).min())
            if cosine < MIN_PROBE_COSINE:
                raise OnnxExportFailed(f"the ONNX export of {model_dir} disagrees with torch (cosine {cosine:.6f})")
            _publish(Path(tmp), path, {"bytes": Path(tmp).stat().st_size, "sha256": sha256_file(Path(tmp)),
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
