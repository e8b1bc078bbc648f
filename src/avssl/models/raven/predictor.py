"""RAVEn predictors: small Transformers that map a student's output to a teacher's targets.

They see the student output with masked frames replaced by a learned token (`embed.mask_emb`), run 2 blocks
of the encoder's block type without LayerScale, then `after_norm` and `last_linear`. Key names match the
official pre-training checkpoint (`model_video.predictor_cross.*`, `model_audio.predictor_within.*`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from avssl.models.raven.attention import RelPositionalEncoding, key_padding_bias
from avssl.models.raven.block import BlockConfig, EncoderLayer


class MaskEmbedding(nn.Module):
    """Linear(in -> width), masked positions replaced by `mask_emb`, then relative positional encoding."""

    def __init__(self, in_dim: int, width: int, dropout: float):
        super().__init__()
        self.linear = nn.Linear(in_dim, width)
        self.mask_emb = nn.Parameter(torch.randn(width) * 0.02)
        self.pos = RelPositionalEncoding(width, dropout)

    def forward(self, x: torch.Tensor, token_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.linear(x)
        if token_mask is not None:
            x = torch.where(token_mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        return self.pos(x)


@dataclass(frozen=True)
class PredictorConfig:
    """`layers` blocks of `block` (its `dim` is the predictor's width). The defaults are RAVEn Base's: 2 blocks of
    width 512, 8 heads, FFN 2048, without stochastic depth or LayerScale (official predictors have no `gamma_*`)."""

    layers: int = 2
    block: BlockConfig = BlockConfig(512, 8, 2048, drop_path=0.0, layerscale=None)


class Predictor(nn.Module):
    """`in_dim` student features -> `out_dim` teacher targets."""

    def __init__(self, in_dim: int, out_dim: int, config: PredictorConfig = PredictorConfig()):
        super().__init__()
        width = config.block.dim
        self.embed = MaskEmbedding(in_dim, width, config.block.dropout)
        self.encoders = nn.ModuleList(EncoderLayer(config.block) for _ in range(config.layers))
        self.after_norm = nn.LayerNorm(width, eps=1e-12)
        self.last_linear = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None,
                token_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, in_dim); padding_mask/token_mask (B, T) bool (True = pad / masked) -> (B, T, out_dim)."""
        x, pos = self.embed(x, token_mask)
        bias = key_padding_bias(padding_mask, x.dtype)
        for layer in self.encoders:
            x = layer(x, pos, bias)
        return self.last_linear(self.after_norm(x))
