"""The CPU GRU loop (avssl.models.gru) computes what torch.nn.GRU computes, outputs and every gradient."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from avssl.models.gru import _run_module, run_gru


def _case(bidirectional: bool, layers: int, dtype: torch.dtype, padded: bool):
    torch.manual_seed(0)
    gru = nn.GRU(5, 4, num_layers=layers, batch_first=True, bidirectional=bidirectional).to(dtype)
    x = torch.randn(3, 7, 5, dtype=dtype)
    mask = None
    if padded:
        lengths = torch.tensor([7, 4, 1])
        mask = torch.arange(7)[None, :] >= lengths[:, None]
    return gru, x, mask


def _grads(fn, gru, x, mask, weight):
    gru.zero_grad()
    x = x.clone().requires_grad_(True)
    out = fn(gru, x, mask)
    (out * weight).sum().backward()
    return out.detach(), x.grad, {k: p.grad.clone() for k, p in gru.named_parameters()}


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_matches_nn_gru_in_float64(bidirectional, padded):
    gru, x, mask = _case(bidirectional, 2, torch.float64, padded)
    weight = torch.randn(3, 7, 8 if bidirectional else 4, dtype=torch.float64)
    ref = _grads(_run_module, gru, x, mask, weight)
    ours = _grads(run_gru, gru, x, mask, weight)
    torch.testing.assert_close(ours[0], ref[0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ours[1], ref[1], rtol=1e-10, atol=1e-12)
    for name in ref[2]:
        torch.testing.assert_close(ours[2][name], ref[2][name], rtol=1e-10, atol=1e-12, msg=name)


def test_float32_close_and_padding_outputs_zero():
    gru, x, mask = _case(True, 2, torch.float32, True)
    out = run_gru(gru, x, mask)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, _run_module(gru, x, mask), rtol=1e-5, atol=1e-6)
    assert out[mask].abs().max() == 0  # padded frames carry nothing
    weight = torch.randn(3, 7, 8)
    ref, ours = _grads(_run_module, gru, x, mask, weight), _grads(run_gru, gru, x, mask, weight)
    for a, b in zip(ours[1:2] + tuple(ours[2].values()), ref[1:2] + tuple(ref[2].values()), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # the float32 kernels' gradients too


def test_padding_does_not_change_valid_frames():
    """A clip's outputs do not depend on how much padding its batch added (packing semantics)."""
    gru, x, _ = _case(True, 2, torch.float64, False)
    short = run_gru(gru, x[:1, :4])
    mask = torch.arange(7)[None, :] >= 4
    padded = run_gru(gru, x[:1], mask)
    torch.testing.assert_close(padded[:, :4], short, rtol=1e-12, atol=1e-14)


def test_cpu_autocast_falls_back_to_the_module():
    """Under bf16 autocast (train.bf16 on CPU) the projections come out in bf16, which NumPy cannot hold."""
    gru, x, mask = _case(True, 2, torch.float32, True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = run_gru(gru, x, mask)
        ref = _run_module(gru, x, mask)
    torch.testing.assert_close(out, ref)


def test_fast_tanh_is_float32_exact():
    """The vectorisable tanh of the float32 path stays within 1e-12 of NumPy's, over the whole range and both signs."""
    import numpy as np

    from avssl.models.gru import _tanh_inplace

    x = np.concatenate([np.linspace(-25, 25, 200_001), np.geomspace(1e-30, 25, 20_001), [0.0]])
    x = np.concatenate([x, -x])
    y = x.copy()
    _tanh_inplace(y, False)
    assert np.all(np.abs(y - np.tanh(x)) <= 1e-12 * np.abs(np.tanh(x)))


def test_same_inputs_same_bits():
    """Run to run determinism of the compiled loops (outputs and gradients), float32 as the jobs use it."""
    gru, x, mask = _case(True, 2, torch.float32, True)
    weight = torch.randn(3, 7, 8)
    first, second = _grads(run_gru, gru, x, mask, weight), _grads(run_gru, gru, x, mask, weight)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert all(torch.equal(first[2][k], second[2][k]) for k in first[2])
