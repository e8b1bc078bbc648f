"""Recurrent head over 25 Hz encoder features (Shukla et al. downstream protocol: 2-layer BiGRU, 256 units).

Why a BiGRU instead of a linear probe: the papers compare representations under the same small temporal model,
so utterance-level tasks (emotion, words) and per-frame affect share one head type. Padded frames never influence
the recurrent state (packing semantics); on CPU the recurrence runs in avssl.models.gru (4x cheaper to train).
"""

from __future__ import annotations

import torch
from torch import nn

from avssl.models.gru import run_gru


def masked_mean(x: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over time of (B, T, D) ignoring padded frames (padding_mask True = padding)."""
    if padding_mask is None:
        return x.mean(dim=1)
    valid = (~padding_mask).to(x.dtype)[..., None]
    return (x * valid).sum(1) / valid.sum(1).clamp(min=1.0)


class BiGRUHead(nn.Module):
    """(B, T, in_dim) -> (B, T, 2*hidden) bidirectional GRU outputs (zeros at padded frames)."""

    def __init__(self, in_dim: int, hidden: int = 256, layers: int = 2, dropout: float = 0.0):
        super().__init__()
        self.gru = nn.GRU(in_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.out_dim = 2 * hidden

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        return run_gru(self.gru, x, padding_mask)
