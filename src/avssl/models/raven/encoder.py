"""RAVEn encoders: frontend -> Linear embed -> relative-position Transformer -> final LayerNorm, at 25 Hz.

The module tree mirrors the official checkpoints (`frontend.*`, `embed.0`, `encoders.N.*`, `after_norm`),
so an official encoder state dict (after stripping `encoder.`) loads with strict=True and ours exports back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from avssl.models.raven.attention import RelPositionalEncoding, key_padding_bias
from avssl.models.raven.block import BlockConfig, EncoderLayer
from avssl.models.raven.frontend import AudioFrontend, VideoFrontend


@dataclass(frozen=True)
class EncoderConfig:
    """Everything that shapes an encoder besides its modality; the defaults are RAVEn Base's. Stored as a dict
    in `RavenEncoder.config` (and in checkpoints' config.json), in this field order."""

    layers: int = 12
    adim: int = 512
    heads: int = 8
    ffn: int = 2048
    drop_path: float = 0.0
    frontend_width: int = 64
    dropout: float = 0.1
    attn_dropout: float = 0.1
    layerscale: float | None = 0.1

    def block(self) -> BlockConfig:
        return BlockConfig(self.adim, self.heads, self.ffn, self.dropout, self.attn_dropout, self.drop_path,
                           self.layerscale)  # fmt: skip


# Published sizes (raven.md). Anything else is "custom".
SIZES: dict[str, dict[str, Any]] = {
    "base": dict(layers=12, adim=512, heads=8, ffn=2048, drop_path=0.0),
    "large": dict(layers=24, adim=1024, heads=16, ffn=4096, drop_path=0.1),
}
DEFAULTS: dict[str, Any] = asdict(EncoderConfig())


def resolve_config(size: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Full builder kwargs: base defaults <- preset `size` <- explicit overrides (None values ignored)."""
    cfg = dict(DEFAULTS)
    if size not in (None, "custom"):
        if size not in SIZES:
            raise ValueError(f"unknown RAVEn size {size!r}; expected one of {sorted(SIZES)} or 'custom'")
        cfg.update(SIZES[size])
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown RAVEn encoder option(s): {sorted(unknown)}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


class RavenEncoder(nn.Module):
    """One modality's encoder. forward(x, padding_mask=None) -> (B, T, adim) after `after_norm`.

    video: (B, T, H, W) normalised mouth crops (or (B, T, 1, H, W)); audio: (B, N) raw 16 kHz (or (B, N, 1)),
    truncated to a multiple of 640 samples. padding_mask: (B, T) bool, True = padded frame; padded frames are
    never attended to (they still pass through BatchNorm, as in the official code).
    """

    def __init__(self, modality: str, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        if modality not in ("video", "audio"):
            raise ValueError(f"modality must be 'video' or 'audio', got {modality!r}")
        self.modality = modality
        self.arch = f"raven_{modality}"
        self.config = asdict(config)  # plain values: the builder kwargs config.json stores
        adim, width = config.adim, config.frontend_width
        self.frontend = VideoFrontend(width) if modality == "video" else AudioFrontend(width)
        self.embed = nn.Sequential(nn.Linear(self.frontend.out_dim, adim), RelPositionalEncoding(adim, config.dropout))
        self.encoders = nn.ModuleList(EncoderLayer(config.block()) for _ in range(config.layers))
        self.after_norm = nn.LayerNorm(adim, eps=1e-12)
        self.output_dim = adim

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Accept the documented input layouts and return (B, T, H, W) video or (B, N) audio."""
        if self.modality == "video":
            if x.ndim == 5:
                x = x.squeeze(2) if x.shape[2] == 1 else x.squeeze(1)
            if x.ndim != 4:
                raise ValueError(f"video input must be (B, T, H, W) or (B, T, 1, H, W), got {tuple(x.shape)}")
        else:
            if x.ndim == 3 and x.shape[-1] == 1:
                x = x.squeeze(-1)
            if x.ndim != 2:
                raise ValueError(f"audio input must be (B, N) or (B, N, 1), got {tuple(x.shape)}")
        return x

    def forward_transformer(self, feats: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Frontend features (B, T, 8w) -> (B, T, adim)."""
        x, pos = self.embed(feats)
        bias = key_padding_bias(padding_mask, x.dtype)
        for layer in self.encoders:
            x = layer(x, pos, bias)
        return self.after_norm(x)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        feats = self.frontend(self.prepare_input(x))
        if padding_mask is not None:
            padding_mask = padding_mask[:, : feats.shape[1]]
        return self.forward_transformer(feats, padding_mask)


def build_encoder(modality: str, size: str | None = "base", **overrides: Any) -> RavenEncoder:
    return RavenEncoder(modality, EncoderConfig(**resolve_config(size, **overrides)))
