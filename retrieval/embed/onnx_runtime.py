"""ONNX Runtime pieces shared by the embedder and the export check: sessions, tokenizer, mean pooling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from retrieval.errors import CiteqaError


class OnnxExportFailed(CiteqaError):
    """The model could not be exported to ONNX, or the export disagreed with torch."""


def embed_pooled(session, inputs: list[str], encodings) -> np.ndarray:
    feed = model_inputs(inputs, encodings)
    return mean_pool(session.run(None, feed)[0], feed["attention_mask"])


def model_inputs(names: list[str], encodings) -> dict[str, np.ndarray]:
    # Pads with 0, BERT's pad id; the attention mask keeps padding out of the mean.
    width = max(len(e.ids) for e in encodings)
    feed = {n: np.zeros((len(encodings), width), dtype=np.int64) for n in names}
    for row, e in enumerate(encodings):
        feed["input_ids"][row, :len(e.ids)] = e.ids
        feed["attention_mask"][row, :len(e.ids)] = e.attention_mask
        if "token_type_ids" in feed:
            feed["token_type_ids"][row, :len(e.ids)] = e.type_ids
    return feed


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
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


def model_dimension(model_dir: Path) -> int:
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


def open_session(path: Path, threads: int | None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: its warnings about unused initializers are noise
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
