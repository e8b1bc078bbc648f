"""Learning-rate schedule: linear warm-up, then per-step cosine decay to a floor (RAVEn, Shukla, fine-tuning).

Expressed as a multiplier of each torch param group's own peak lr, so one LambdaLR serves optimisers whose
groups have different peaks (e.g. layer-wise lr decay) and different floors.
"""

from __future__ import annotations

import math
from typing import Callable

import torch


def warmup_cosine(step: int, total: int, warmup: int, peak: float, floor: float) -> float:
    """Learning rate after ``step`` completed steps (0-based: the lr used by step ``step + 1``)."""
    floor = min(floor, peak)
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, total: int, warmup: int, default_floor: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR with one warm-up+cosine lambda per param group (floor: group ``min_lr`` or ``default_floor``)."""
    lambdas: list[Callable[[int], float]] = []
    for group in optimizer.param_groups:
        peak = float(group["lr"])
        floor = float(group.get("min_lr", default_floor))
        lambdas.append(
            lambda s, peak=peak, floor=floor: warmup_cosine(s, total, warmup, peak, floor) / peak if peak > 0 else 0.0
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)
