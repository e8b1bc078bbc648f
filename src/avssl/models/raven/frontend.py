"""Modality frontends: turn raw pixels / samples into one 8w-d (official: 512-d) vector per 40 ms frame."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avssl.media import SAMPLES_PER_FRAME
from avssl.models.raven.resnet import ResNet1D, ResNet2D



class VideoFrontend(nn.Module):
    """3-D stem (5x7x7 conv, BN, Swish, 3x3 max-pool per frame) then a per-frame ResNet-18: (B, T, H, W) -> (B, T, 8w).

    The official stem ends in MaxPool3d((1,3,3), stride (1,2,2), pad (0,1,1)): a pool of size 1 in time, i.e. a
    2-D pool of each frame. We run it as max_pool2d over the w*T maps of a free view -- the same values bit for
    bit, a little faster on CPU, and with a deterministic CUDA backward (MaxPool3d's raises under
    torch.use_deterministic_algorithms). It has no parameters: the state-dict keys stay frontend3D.{0,1}.
    """

    def __init__(self, width: int = 64):
        super().__init__()
        self.frontend3D = nn.Sequential(
            nn.Conv3d(1, width, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False),
            nn.BatchNorm3d(width),
            nn.SiLU(),
        )
        self.trunk = ResNet2D(width)
        self.out_dim = 8 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T = x.shape[:2]
        x = self.frontend3D(x.unsqueeze(1))  # (B, w, T, H, W)
        x = F.max_pool2d(x.flatten(1, 2), kernel_size=3, stride=2, padding=1).unflatten(1, (-1, T))
        x = x.transpose(1, 2).flatten(0, 1)  # frames folded into the batch
        return self.trunk(x).view(B, T, -1)


class AudioFrontend(nn.Module):
    """1-D ResNet-18 on the raw waveform: (B, N) -> (B, N // 640, 8w), frame-aligned with the video."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.trunk = ResNet1D(width)
        self.out_dim = 8 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1] // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
        return self.trunk(x[:, None, :n]).transpose(1, 2)
