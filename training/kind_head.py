"""The reader with a second head: what kind of answer a question wants (a span, "yes" or "no"), from [CLS].

The start/end head and the encoder are the extractive reader's own (a transformers
`AutoModelForQuestionAnswering`); the kind head reads the first token's last hidden state. The ONNX export
keeps start_logits and end_logits first, as the product reads them, and adds kind_logits third.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

KINDS = ("span", "yes", "no")


class KindReader(nn.Module):
    """start_logits, end_logits (batch x tokens) and kind_logits (batch x 3) for a batch of windows."""

    def __init__(self, qa: nn.Module):
        super().__init__()
        self.qa = qa
        self.config = qa.config
        width = qa.config.hidden_size
        self.kind = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Dropout(0.1), nn.Linear(width, len(KINDS)))

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        typed = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.qa.base_model(input_ids=input_ids, attention_mask=attention_mask, **typed)[0]
        start, end = self.qa.qa_outputs(hidden).split(1, dim=-1)
        return start.squeeze(-1), end.squeeze(-1), self.kind(hidden[:, 0])


def loss(outputs, starts, ends, kinds, spans, kind_weight: float = 1.0):
    """The span loss (as transformers computes it: mean of start and end cross-entropy) over the windows whose
    span is labelled (`spans`), plus the kind loss over every window. BoolQ windows have no span label: their
    answer is a verdict, not a span, and labelling them [CLS] would teach the span head that the passage that
    decides a yes/no question holds no answer."""
    start, end, kind = outputs
    span_loss = (functional.cross_entropy(start.float(), starts, reduction="none")
                 + functional.cross_entropy(end.float(), ends, reduction="none")) / 2
    weight = spans.float()
    span_part = (span_loss * weight).sum() / weight.sum().clamp(min=1.0)
    return span_part + kind_weight * functional.cross_entropy(kind.float(), kinds)
