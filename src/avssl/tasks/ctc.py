"""CTC head (official name ``ctc.ctc_lo``) and greedy CTC decoding.

Why a separate module: the joint CTC/attention model uses CTC twice — as an auxiliary loss that forces monotonic
alignment during training, and as a prefix scorer in beam search — and greedy CTC is the cheap baseline decoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CTCHead(nn.Module):
    """Dropout -> Linear(in_dim -> V); log-probabilities over the vocabulary with blank = 0."""

    def __init__(self, in_dim: int, vocab_size: int, dropout: float = 0.1, blank: int = 0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ctc_lo = nn.Linear(in_dim, vocab_size)
        self.blank = blank

    def log_probs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.ctc_lo(self.dropout(x)).float(), dim=-1)

    def loss(self, x, lengths, targets, target_lengths) -> torch.Tensor:
        """Summed CTC over the batch divided by batch size (ESPnet convention, keeps the 0.1/0.9 weights
        comparable to the attention loss which is normalised the same way)."""
        logp = self.log_probs(x).transpose(0, 1)  # (T, B, V)
        loss = F.ctc_loss(logp, targets, lengths, target_lengths, blank=self.blank, reduction="sum",
                          zero_infinity=True)
        return loss / x.shape[0]


def greedy_ctc_decode(log_probs: torch.Tensor, lengths: torch.Tensor | None = None, blank: int = 0) -> list[list[int]]:
    """Best path: per-frame argmax, collapse repeats, drop blanks. ``log_probs`` (B, T, V)."""
    best = log_probs.argmax(-1).cpu()
    out = []
    for b in range(best.shape[0]):
        n = int(lengths[b]) if lengths is not None else best.shape[1]
        seq = best[b, :n].tolist()
        hyp, prev = [], None
        for tok in seq:
            if tok != prev and tok != blank:
                hyp.append(tok)
            prev = tok
        out.append(hyp)
    return out
