"""Identity encoder: a still face image -> identity code + skip maps for the U-Net frame decoder.

As in the lab's talking-face generator: 4x4 stride-2 convs, 64 channels doubling (capped at 512),
BN + ReLU, every intermediate map kept as a skip; a final conv spanning the remaining s x s map gives
the identity code with tanh. The skips carry the appearance, so the audio only has to explain motion.
"""

from __future__ import annotations

from torch import Tensor, nn


def level_channels(base: int, n_layers: int) -> list[int]:
    """Channels of each stride-2 level: base, 2*base, ... capped at 512 (shared with the decoder)."""
    return [min(base * 2**i, 512) for i in range(n_layers)]


class IdentityEncoder(nn.Module):
    """``(B, C, S, S) in [-1, 1] -> (code (B, code_dim), skips [(B, c_i, S/2^(i+1), S/2^(i+1))])``."""

    def __init__(
        self,
        image_size: int = 64,
        in_channels: int = 1,
        base_channels: int = 64,
        n_layers: int = 4,
        code_dim: int = 128,
    ):
        super().__init__()
        if image_size % 2**n_layers:
            raise ValueError(f"image_size {image_size} not divisible by 2**{n_layers}")
        widths = level_channels(base_channels, n_layers)
        self.blocks = nn.ModuleList()
        previous = in_channels
        for width in widths:
            self.blocks.append(
                nn.Sequential(
                    nn.Conv2d(previous, width, 4, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                )
            )
            previous = width
        bottom = image_size // 2**n_layers
        self.to_code = nn.Sequential(nn.Conv2d(previous, code_dim, bottom), nn.Tanh())
        self.code_dim = code_dim

    def forward(self, image: Tensor) -> tuple[Tensor, list[Tensor]]:
        skips = []
        x = image
        for block in self.blocks:
            x = block(x)
            skips.append(x)
        return self.to_code(x).flatten(1), skips
