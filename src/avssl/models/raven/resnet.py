"""ResNet-18 trunks of the RAVEn frontends (2-D for video frames, 1-D for raw audio).

Module names (`layerN.i.conv1/bn1/conv2/bn2/downsample.{0,1}`, audio stem `conv1/bn1`) follow the official
checkpoints so their state dicts load strictly. `width` scales every stage (official: 64 -> 64/128/256/512);
smaller widths only exist for fast tests and tiny runs.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(dims: int):
    return nn.Conv2d if dims == 2 else nn.Conv1d


def _bn(dims: int):
    return nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d


class BasicBlock(nn.Module):
    """Two 3-wide convs with BN and Swish, identity (or 1x1 conv+BN) shortcut."""

    def __init__(self, dims: int, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        Conv, BN = _conv(dims), _bn(dims)
        self.conv1 = Conv(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BN(planes)
        self.relu1 = nn.SiLU()  # "Swish" in the paper
        self.conv2 = Conv(planes, planes, 3, padding=1, bias=False)
        self.bn2 = BN(planes)
        self.relu2 = nn.SiLU()
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(Conv(inplanes, planes, 1, stride=stride, bias=False), BN(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu2(out + shortcut)


def _stages(module: nn.Module, dims: int, width: int) -> None:
    inplanes = width
    for i, (mult, stride) in enumerate([(1, 1), (2, 2), (4, 2), (8, 2)], start=1):
        planes = width * mult
        setattr(module, f"layer{i}", nn.Sequential(BasicBlock(dims, inplanes, planes, stride),
                                                   BasicBlock(dims, planes, planes)))
        inplanes = planes


class ResNet2D(nn.Module):
    """Per-frame 2-D trunk (the stem is the video frontend's 3-D conv): (N, w, H, W) -> (N, 8w).

    Global average pool as a mean over H, W: bit-identical to the official AdaptiveAvgPool2d(1) on CPU, and its
    CUDA backward is deterministic (adaptive_avg_pool2d's is not).
    """

    def __init__(self, width: int = 64):
        super().__init__()
        _stages(self, 2, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean((2, 3))


class ResNet1D(nn.Module):
    """Raw-waveform trunk: stride 4 stem x 2*2*2 stages x avg-pool 20 = 640 samples per output frame."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv1d(1, width, kernel_size=80, stride=4, padding=38, bias=False)
        self.bn1 = nn.BatchNorm1d(width)
        self.relu = nn.SiLU()
        _stages(self, 1, width)
        self.avgpool = nn.AvgPool1d(kernel_size=20, stride=20)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, N) -> (B, 8w, N/640)
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x)
