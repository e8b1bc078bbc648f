"""Our AdamW (avssl.training.adamw) is torch.optim.AdamW/Adam bit for bit on CPU, checkpoints included,
and training with it never imports torch._dynamo (the ~1 s of start-up it exists to save)."""

from __future__ import annotations

import io

import pytest
import torch

from avssl.training.adamw import AdamW
from avssl.training.schedules import build_scheduler
from tests.conftest import modules_imported_by


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(7, 16), torch.nn.GELU(), torch.nn.LayerNorm(16), torch.nn.Linear(16, 3))


def _groups(model: torch.nn.Module) -> list[dict]:
    """Two groups with their own lr / weight decay / betas, as the fine-tuning recipes use."""
    first, rest = list(model[0].parameters()), [p for m in list(model)[1:] for p in m.parameters()]
    return [{"params": first, "lr": 3e-3, "weight_decay": 0.0, "min_lr": 0.0},
            {"params": rest, "betas": (0.9, 0.98), "min_lr": 1e-5}]


def _make(cls, model, kind):
    kw = dict(lr=1e-2, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8)
    if cls is AdamW:
        return AdamW(_groups(model), **kw, decoupled_weight_decay=kind == "adamw")
    return (torch.optim.AdamW if kind == "adamw" else torch.optim.Adam)(_groups(model), **kw)


def _steps(model, opt, sched, start: int, stop: int) -> None:
    for i in range(start, stop):
        g = torch.Generator().manual_seed(i)
        x, y = torch.randn(5, 7, generator=g), torch.randint(0, 3, (5,), generator=g)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if i % 7 == 3:  # a parameter without a gradient this step is skipped, as in torch
            model[3].bias.grad = None
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()


def _run(cls, kind, steps=120, resume_with=None):
    """``steps`` steps; with ``resume_with``: stop halfway, save, continue in a fresh optimiser of that class."""
    model = _model(0)
    opt = _make(cls, model, kind)
    sched = build_scheduler(opt, steps, 10, 0.0)
    half = steps // 2 if resume_with else steps
    _steps(model, opt, sched, 0, half)
    if resume_with:
        buf = io.BytesIO()
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
        buf.seek(0)
        saved = torch.load(buf, weights_only=True)
        model = _model(1)
        model.load_state_dict(saved["model"])
        opt = _make(resume_with, model, kind)
        sched = build_scheduler(opt, steps, 10, 0.0)
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        _steps(model, opt, sched, half, steps)
    return model, opt


def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


@pytest.mark.parametrize("kind", ["adamw", "adam"])
def test_bit_identical_to_torch(kind):
    ours, ours_opt = _run(AdamW, kind)
    ref, ref_opt = _run(torch.optim.Optimizer, kind)
    _same(ours, ref)
    a, b = ours_opt.state_dict(), ref_opt.state_dict()
    assert a["param_groups"] == b["param_groups"]  # same keys and values: checkpoints read the same
    for i, s in b["state"].items():
        assert set(a["state"][i]) == set(s)
        for k in s:
            assert torch.equal(a["state"][i][k], s[k]) and a["state"][i][k].dtype == s[k].dtype, (i, k)


@pytest.mark.parametrize("first,second", [(AdamW, AdamW), (AdamW, torch.optim.Optimizer),
                                          (torch.optim.Optimizer, AdamW)])
def test_resume_across_implementations(first, second):
    """Half the steps, save, load into a fresh optimiser (ours or torch's), finish: same as uninterrupted."""
    resumed, _ = _run(first, "adamw", resume_with=second)
    straight, _ = _run(torch.optim.Optimizer, "adamw")
    _same(resumed, straight)


def test_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="betas"):
        AdamW(_model(0).parameters(), betas=(1.0, 0.9))


def test_training_step_does_not_import_dynamo():
    code = (
        "import torch\n"
        "from avssl.training.adamw import make_adam\n"
        "from avssl.training.schedules import build_scheduler\n"
        "m = torch.nn.Linear(3, 2)\n"
        "opt = make_adam([{'params': list(m.parameters()), 'min_lr': 0.0}], kind='adamw', lr=1e-3,"
        " weight_decay=0.1, betas=(0.9, 0.999), eps=1e-8, fused=False)\n"
        "s = build_scheduler(opt, 10, 2, 0.0)\n"
        "opt.zero_grad(); m(torch.randn(4, 3)).sum().backward()\n"
        "torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step(); s.step()\n"
        "opt.load_state_dict(opt.state_dict())\n"
    )
    assert modules_imported_by(code, ("torch._dynamo",)) == []
