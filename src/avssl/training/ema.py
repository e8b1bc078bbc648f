"""EMA ("momentum") teachers as in BYOL / data2vec / RAVEn.

The teacher is a deep copy of the student without gradients; after each optimiser step its *parameters*
move towards the student's, t <- m t + (1 - m) s, with m rising from m0 to 1 on a half cosine. Buffers
(BatchNorm running statistics) are not averaged: the teacher keeps its own, updated by its own forward passes.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def cosine_momentum(step: int, total_steps: int, start: float = 0.999, end: float = 1.0) -> float:
    """m(k) = end - (end - start) * (1 + cos(pi k / K)) / 2: ``start`` at k=0, ``end`` at k=K."""
    if total_steps <= 0:
        return end
    k = min(max(step, 0), total_steps)
    return end - (end - start) * 0.5 * (1.0 + math.cos(math.pi * k / total_steps))


def make_teacher(student: nn.Module) -> nn.Module:
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """In place: t = m t + (1 - m) s for every parameter (one fused foreach op)."""
    t_params = [p for p in teacher.parameters()]
    s_params = [p.detach() for p in student.parameters()]
    if len(t_params) != len(s_params):
        raise ValueError("teacher and student have different parameter lists")
    if momentum >= 1.0:
        return
    torch._foreach_lerp_(t_params, s_params, 1.0 - momentum)


def set_teacher_mode(teacher: nn.Module, keep_train: tuple[type[nn.Module], ...] = ()) -> None:
    """Dropout / attention dropout off (eval), BatchNorm in train mode (batch statistics). Modules of the
    types in ``keep_train`` stay in train mode too: RAVEn's official teacher turns off only its Dropout
    layers, so its stochastic depth (``DropPath``) stays active."""
    teacher.eval()
    for m in teacher.modules():
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, *keep_train)):
            m.train()
