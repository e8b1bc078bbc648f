"""Modality frontends: turn raw pixels / samples into one 8w-d (official: 512-d) vector per 40 ms frame."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avssl.media import SAMPLES_PER_FRAME
from avssl.models.raven.resnet import ResNet1D, ResNet2D



POOL = dict(kernel_size=3, stride=2, padding=1)  # the stem's per-frame max-pool (official MaxPool3d((1,3,3), ...))


def frame_max_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-2 max-pool (padding 1) of every map of (N, C, H, W): the stem's per-frame pool.

    On CPU the forward runs on a channels-last copy: torch's NCHW kernel took 22 ms where the channels-last one
    takes 1.2 ms (the default stem's 8 x 30 maps of 44 x 44 per clip). The values and the argmax indices are the
    same; the backward stays the NCHW kernel fed those indices (the channels-last backward is slower and sums
    overlapping windows in another order), so outputs and gradients are bit-identical to a plain max_pool2d
    (tests/test_raven_encoders.py).
    """
    if x.device.type != "cpu":
        return F.max_pool2d(x, **POOL)
    if not (torch.is_grad_enabled() and x.requires_grad):
        return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), **POOL).contiguous()
    return _ChannelsLastMaxPool.apply(x)


class _ChannelsLastMaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out, indices = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), **POOL, return_indices=True)
        indices = indices.contiguous()
        ctx.save_for_backward(x, indices)
        return out.contiguous()

    @staticmethod
    def backward(ctx, grad):
        x, indices = ctx.saved_tensors
        k, st, pad = (POOL[key] for key in ("kernel_size", "stride", "padding"))
        return torch.ops.aten.max_pool2d_with_indices_backward(
            grad.contiguous(), x, [k, k], [st, st], [pad, pad], [1, 1], False, indices)


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
        x = frame_max_pool(x.flatten(1, 2)).unflatten(1, (-1, T))
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
