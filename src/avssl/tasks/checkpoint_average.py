"""Averaging of the last K checkpoints (RAVEn: last 10 epochs) — a cheap ensemble that smooths the end of
training. Floating-point tensors are averaged (accumulated in float64); integer buffers such as BatchNorm's
``num_batches_tracked`` are taken from the last checkpoint (averaging counters is meaningless)."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch


def average_state_dicts(state_dicts: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    if not state_dicts:
        raise ValueError("nothing to average")
    keys = list(state_dicts[-1].keys())
    for sd in state_dicts:
        if set(sd.keys()) != set(keys):
            raise ValueError("checkpoints have different keys")
    out = {}
    for k in keys:
        last = state_dicts[-1][k]
        if torch.is_floating_point(last):
            acc = torch.zeros(last.shape, dtype=torch.float64)
            for sd in state_dicts:
                acc += sd[k].detach().to("cpu", torch.float64)
            out[k] = (acc / len(state_dicts)).to(last.dtype)
        else:
            out[k] = last.detach().clone().cpu()
    return out


def last_k(paths: Sequence, k: int) -> list:
    """The ``k`` most recent of ``paths`` (sorted by name, e.g. epoch-numbered files)."""
    return sorted(paths, key=str)[-k:]
