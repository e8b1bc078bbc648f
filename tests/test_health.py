"""Representation-health statistics tell collapse from learning (and cost no random numbers)."""

from __future__ import annotations

import torch

from avssl.training.health import feature_health


def _stats(x, valid=None):
    valid = torch.ones(x.shape[:2], dtype=torch.bool) if valid is None else valid
    return {k.split("/")[-1]: float(v) for k, v in feature_health(x, valid, "enc").items()}


def test_collapse_kinds_are_told_apart():
    g = torch.Generator().manual_seed(0)
    healthy = _stats(torch.randn(4, 30, 16, generator=g))
    assert healthy["effective_rank"] > 12 and abs(healthy["cos_consecutive"]) < 0.2 and healthy["std_time"] > 0.8
    complete = _stats(torch.ones(4, 30, 16))  # every frame of every clip the same vector
    assert complete["std_batch"] == 0 and complete["std_time"] == 0 and complete["cos_consecutive"] > 0.999
    temporal = _stats(torch.randn(4, 1, 16, generator=g).expand(4, 30, 16))  # per-clip constant over time
    assert temporal["std_time"] < 1e-6 and temporal["cos_consecutive"] > 0.999 and temporal["std_batch"] > 0.3
    one_dir = _stats(torch.randn(4, 30, 1, generator=g) * torch.randn(1, 1, 16, generator=g))
    assert one_dir["effective_rank"] < 1.01  # dimensional collapse: a single direction


def test_padding_is_ignored_and_no_random_numbers_are_drawn():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 10, 8, generator=g)
    valid = torch.ones(2, 10, dtype=torch.bool)
    valid[1, 6:] = False
    padded = x.clone()
    padded[1, 6:] = 1e6  # garbage in padded frames must not matter
    state = torch.get_rng_state()
    a, b = _stats(x, valid), _stats(padded, valid)
    assert torch.equal(state, torch.get_rng_state())
    assert a == b
