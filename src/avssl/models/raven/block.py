"""The pre-norm Transformer block shared by RAVEn encoders and predictors.

x = x + drop_path(dropout(gamma_mha * RelMHA(LayerNorm(x))))
x = x + drop_path(dropout(gamma_ff  * FFN(BatchNorm1d(x))))
LayerScale (`gamma_*`, init 0.1) is on in the encoders and off in the predictors; the FFN pre-norm is a
BatchNorm over channels (statistics over all B*T frames, padding included, as in the official code).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from avssl.models.raven.attention import RelPositionMultiHeadedAttention


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample (rescaled by 1/keep)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.w_1 = nn.Linear(dim, hidden)
        self.w_2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.dropout(torch.relu(self.w_1(x))))


@dataclass(frozen=True)
class BlockConfig:
    """Sizes of one block: width `dim`, attention `heads`, FFN hidden size `ffn`; `layerscale=None` turns
    LayerScale off (predictors)."""

    dim: int
    heads: int
    ffn: int
    dropout: float = 0.1
    attn_dropout: float = 0.1
    drop_path: float = 0.0
    layerscale: float | None = 0.1


class EncoderLayer(nn.Module):
    def __init__(self, config: BlockConfig):
        super().__init__()
        dim = config.dim
        self.self_attn = RelPositionMultiHeadedAttention(dim, config.heads, config.attn_dropout)
        self.feed_forward = FeedForward(dim, config.ffn, config.dropout)
        self.norm_mha = nn.LayerNorm(dim, eps=1e-12)
        self.norm_ff = nn.BatchNorm1d(dim)
        self.dropout = nn.Dropout(config.dropout)
        self.drop_path = DropPath(config.drop_path)
        if config.layerscale is not None:
            self.gamma_mha = nn.Parameter(torch.full((dim,), float(config.layerscale)))
            self.gamma_ff = nn.Parameter(torch.full((dim,), float(config.layerscale)))
        else:
            self.gamma_mha = self.gamma_ff = None

    def forward(self, x: torch.Tensor, pos_emb: torch.Tensor, key_bias: torch.Tensor | None) -> torch.Tensor:
        h = self.self_attn(self.norm_mha(x), pos_emb, key_bias)
        if self.gamma_mha is not None:
            h = self.gamma_mha * h
        x = x + self.drop_path(self.dropout(h))
        h = self.feed_forward(self.norm_ff(x.transpose(1, 2)).transpose(1, 2))
        if self.gamma_ff is not None:
            h = self.gamma_ff * h
        return x + self.drop_path(self.dropout(h))
