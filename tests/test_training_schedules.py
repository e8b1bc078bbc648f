"""Schedules, determinism helpers, checkpoint atomicity and the TrainParams section."""

import math

import pytest
import torch
from pydantic import ValidationError

from avssl.config.train import TrainParams
from avssl.training import checkpointing, determinism
from avssl.training.schedules import build_scheduler, warmup_cosine


def test_warmup_then_cosine_to_floor():
    lrs = [warmup_cosine(s, 100, 10, 1.0, 0.01) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert warmup_cosine(100, 100, 10, 1.0, 0.01) == pytest.approx(0.01)
    assert warmup_cosine(55, 100, 10, 1.0, 0.0) == pytest.approx(0.5)
    assert warmup_cosine(0, 10, 0, 2.0, 0.0) == pytest.approx(2.0)


def test_scheduler_per_group_peaks_and_floors():
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([{"params": [p1], "lr": 1.0, "min_lr": 0.1}, {"params": [p2], "lr": 0.5}], lr=1.0)
    sched = build_scheduler(opt, total=20, warmup=4, default_floor=0.0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.25, 0.125])
    for _ in range(20):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.0])


def test_derive_seed_stable_and_distinct():
    assert determinism.derive_seed(1, 2, 3) == determinism.derive_seed(1, 2, 3)
    assert determinism.derive_seed(1, 2, 3) != determinism.derive_seed(1, 3, 2)
    assert 0 <= determinism.derive_seed("x") < 2**63


def test_rng_state_roundtrip():
    determinism.seed_everything(5)
    state = determinism.rng_state()
    a = torch.rand(3)
    determinism.set_rng_state(state)
    assert torch.equal(a, torch.rand(3))


def test_atomic_checkpoint_ignores_torn_temp(tmp_path):
    assert checkpointing.load_checkpoint(tmp_path) is None
    checkpointing.save_checkpoint(tmp_path, {**dict.fromkeys(checkpointing.REQUIRED_KEYS), "step": 3})
    (tmp_path / ".last.pt.tmp999").write_bytes(b"torn")
    assert checkpointing.load_checkpoint(tmp_path)["step"] == 3
    assert not list(tmp_path.glob(".last.pt.tmp*"))
    checkpointing.remove_checkpoints(tmp_path)
    assert not tmp_path.exists()


def test_train_params_validation():
    p = TrainParams()
    assert p.steps > 0 and p.device == "auto"
    with pytest.raises(ValidationError):
        TrainParams(stepz=3)
    with pytest.raises(ValidationError):
        TrainParams(min_lr=1.0, lr=0.1)
    with pytest.raises(ValidationError):
        TrainParams(warmup_fraction=1.0)
    with pytest.raises(ValidationError):
        TrainParams(device="tpu")
    for name, f in TrainParams.model_fields.items():
        assert f.description, name
    assert math.isclose(TrainParams(betas=(0.9, 0.98)).betas[1], 0.98)
