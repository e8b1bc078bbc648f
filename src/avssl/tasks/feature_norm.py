"""Per-dimension standardisation of frozen encoder features before the task head.

Why: encoders put their information at very different scales. RAVEn's features leave a LayerNorm whose
per-dimension spread across clips is ~0.1 around large shared means; the same BiGRU head with the same
learning rate then barely fits the training set (words, default preset: train loss 2.8 of ln 30 = 3.4 after 20
epochs) while it fits log-mel features to 0.01. Standardising every dimension with training statistics removes
that optimisation artefact so the frozen rows compare representations, not their scales — the linear-probe
protocol of MAE (He et al., 2022: BatchNorm without affine parameters in front of the probe).

BatchNorm over the valid frames only (padding never enters the statistics); training uses batch statistics and
updates running ones, evaluation uses the running ones. No parameters: the optimiser is unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class FrameStandardiser(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim, affine=False)

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, D) -> (B, T, D) standardised; padded frames (padding_mask True) come out as zeros."""
        if padding_mask is None:
            return self.norm(feats.reshape(-1, feats.shape[-1])).reshape(feats.shape)
        valid = ~padding_mask
        out = feats.new_zeros(feats.shape)
        out[valid] = self.norm(feats[valid])
        return out
