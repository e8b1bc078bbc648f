"""U-Net frame decoder: [audio code of a frame, identity code] + identity skips -> that face frame.

The concatenated codes are expanded to the bottom s x s map by a transposed conv, then every level
concatenates the identity skip of the same resolution and upsamples with a 4x4 stride-2 transposed conv
(BN + ReLU), up to the input face size with a tanh output in [-1, 1]. Frames are decoded independently
(the GRU in the audio encoder already supplies temporal context).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from avssl.models.shukla.identity_encoder import level_channels


def _up(c_in: int, c_out: int, kernel: int = 4, stride: int = 2, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FrameDecoder(nn.Module):
    """``(audio (F, Da), identity (F, Di), skips [(F, c_i, h_i, w_i)]) -> frames (F, C, S, S)`` in [-1, 1].

    Works on a flat set of F frames (the caller gathers each frame's identity code and skips), so only
    real frames are decoded and BatchNorm statistics never see padding.
    """

    def __init__(
        self,
        audio_dim: int,
        identity_dim: int,
        image_size: int = 64,
        out_channels: int = 1,
        base_channels: int = 64,
        n_layers: int = 4,
    ):
        super().__init__()
        widths = level_channels(base_channels, n_layers)
        bottom = image_size // 2**n_layers
        self.stem = _up(audio_dim + identity_dim, widths[-1], kernel=bottom, stride=1, padding=0)
        # Deepest level first: concat the skip of the same resolution, then double the resolution.
        ups = [_up(2 * widths[level], widths[level - 1]) for level in reversed(range(1, n_layers))]
        ups.append(nn.Sequential(nn.ConvTranspose2d(2 * widths[0], out_channels, 4, stride=2, padding=1), nn.Tanh()))
        self.ups = nn.ModuleList(ups)

    def forward(self, audio: Tensor, identity: Tensor, skips: list[Tensor]) -> Tensor:
        x = self.stem(torch.cat([audio, identity], dim=-1)[:, :, None, None])
        for up, skip in zip(self.ups, reversed(skips)):
            x = up(torch.cat([x, skip], dim=1))
        return x
