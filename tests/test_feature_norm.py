"""Frozen features are standardised per dimension over valid frames before the head (MAE probe protocol)."""

import torch
from torch import nn

from avssl.tasks.classification import ClassificationObjective
from avssl.tasks.feature_norm import FrameStandardiser


def test_statistics_ignore_padding_and_padding_stays_zero():
    torch.manual_seed(0)
    feats = torch.randn(3, 7, 4) * torch.tensor([0.1, 1.0, 5.0, 0.01]) + 3.0
    pm = torch.zeros(3, 7, dtype=torch.bool)
    pm[1, 4:] = True
    pm[2, 2:] = True
    feats[pm] = 1e6  # garbage in padded frames must not leak into the statistics
    out = FrameStandardiser(4).train()(feats, pm)
    x = feats[~pm]
    expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)  # BatchNorm's eps
    assert torch.allclose(out[~pm], expected, atol=1e-4)
    assert (out[pm] == 0).all()


def test_only_frozen_encoders_are_standardised_and_stats_are_saved():
    enc = nn.Linear(640, 6)
    enc.forward = lambda x, padding_mask=None: x.reshape(x.shape[0], -1, 640) @ torch.ones(640, 6) * 1e-3
    frozen = ClassificationObjective(enc, "audio", 6, 3, hidden=4, freeze_encoder=True, feature_norm=True)
    tuned = ClassificationObjective(enc, "audio", 6, 3, hidden=4, freeze_encoder=False, feature_norm=True)
    assert frozen.feature_norm is not None and tuned.feature_norm is None
    assert "feature_norm.norm.running_mean" in frozen.state_dict()  # evaluation uses the training statistics
    batch = {"audio": torch.randn(4, 640 * 5) + 2.0, "label": torch.tensor([0, 1, 2, 0])}
    feats, _ = frozen.train().encode(batch)
    assert torch.allclose(feats.reshape(-1, 6).mean(0), torch.zeros(6), atol=1e-5)
    assert not torch.equal(frozen.feature_norm.norm.running_mean, torch.zeros(6))
    # the head's group only: no encoder group, and the norm adds no parameters to it
    assert [g["name"] for g in frozen.param_groups()[0]["params"]] == ["head"]
    assert not list(frozen.feature_norm.parameters())
