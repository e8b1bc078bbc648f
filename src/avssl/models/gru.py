"""GRU over padded batches whose CPU cost is arithmetic, not autograd bookkeeping.

Why: the downstream heads (2-layer BiGRU) and the Shukla audio encoder (2-layer GRU) run on small batches of
short sequences. There `torch.nn.GRU` on CPU spends most of a training step in per-time-step autograd nodes:
its backward alone took 3x its forward and about 70 % of a frozen-encoder fine-tuning job. Here each layer and
direction is one autograd node: the input projections of all frames are one matrix product (autograd), the
recurrence runs in a compiled loop that stores its gates, and the backward walks the loop in reverse by hand
(the gradient formulas are written out in :func:`_backward_kernel`). The parameters are those of the
`nn.GRU` module passed in (same names, same checkpoints); on CUDA the module's cuDNN kernel is used instead.

Why numba: a per-time-step NumPy loop over (batch x hidden) = 8 x 64 arrays spent nearly all its time in Python
and ufunc dispatch (about half of a frozen emotion head job). The kernels below are that loop compiled
(`numba.njit`): the small matrix products are written out with the innermost loop running over contiguous
memory (no BLAS, no scipy), the gate math runs per row over contiguous scratch, tanh is arithmetic LLVM can
vectorise (:func:`_tanh_inplace`; `error_model="numpy"` drops the Python zero-division checks that would stop it),
and every loop is sequential (no `parallel`, no `fastmath`), so the same inputs give the same bits run to run.
Compiled code is cached beside this module (`__pycache__`, else numba's user cache or NUMBA_CACHE_DIR); the
fork server calls :func:`warm` so that its children never compile.

Masking replaces packing: a padded frame keeps the previous state and outputs zeros, so a forward pass over a
sequence of length L reads frames 0..L-1 and a backward-direction pass starts at frame L-1 from a zero state,
exactly what `pack_padded_sequence` gives. Results equal `nn.GRU`'s up to float rounding (tests/test_gru.py).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from torch import nn


@numba.njit(cache=True, error_model="numpy")
def _tanh_inplace(x, exact):
    """tanh of the float64 buffer x in place: libm's when `exact` (float64 data), else a float32-exact formula.

    libm's tanh is an opaque call per element (~14 ns here, most of the forward pass). The formula is plain
    arithmetic that LLVM vectorises: tanh a = a - a^3/3 + 2a^5/15 - 17a^7/315 below |a| = 0.05, else
    1 - 2 / (e^2a + 1) with e^2a = (e^u)^32, e^u a degree-8 Taylor sum of u = 2a/32 <= 1.25 (|a| clamped at 20,
    where tanh rounds to 1). Its relative error stays below 1e-12, far under float32's 6e-8
    (tests/test_gru.py compares it with NumPy's tanh); on float64 data the exact call keeps `nn.GRU`'s precision.
    """
    if exact:
        for i in range(x.size):
            x[i] = math.tanh(x[i])
        return
    for i in range(x.size):
        v = x[i]
        a = -v if v < 0.0 else v
        a = a if a < 20.0 else 20.0
        a2 = a * a
        small = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 - a2 * (17.0 / 315.0))))
        u = a * (2.0 / 32.0)
        e = 1.0 + u * (1.0 + u * (1.0 / 2 + u * (1.0 / 6 + u * (1.0 / 24 + u * (1.0 / 120 + u * (
            1.0 / 720 + u * (1.0 / 5040 + u * (1.0 / 40320))))))))
        e *= e
        e *= e
        e *= e
        e *= e
        e *= e
        t = small if a < 0.05 else 1.0 - 2.0 / (e + 1.0)
        x[i] = -t if v < 0.0 else t


@numba.njit(cache=True, error_model="numpy")
def _forward_kernel(gi, active, w_hh_t, b_hh, reverse):
    """Run one direction over gi (T,B,3H) input projections incl. b_ih, rows sorted longest first.

    active[t] = how many rows are still inside their clip at frame t (packing without the copies); w_hh_t is
    W_hh transposed (H, 3H), so that gh[b] += h[b, j] * w_hh_t[j] runs over contiguous memory. The gates are
    computed in float64 (sigmoid x = (1 + tanh(x/2)) / 2), stored in the data's dtype.
    Returns the outputs (T,B,H) and what the backward needs: previous states, r|z gates, n, W_hn h + b_hn.
    """
    steps, batch, three_h = gi.shape
    hidden = three_h // 3
    exact = gi.itemsize == 8
    h = np.zeros((batch, hidden), dtype=gi.dtype)
    out = np.zeros((steps, batch, hidden), dtype=gi.dtype)
    h_prev = np.zeros_like(out)
    rz = np.zeros((steps, batch, 2 * hidden), dtype=gi.dtype)
    n = np.zeros_like(out)
    gh_n = np.zeros_like(out)
    gh_all = np.empty((batch, three_h), dtype=gi.dtype)
    pre_rz = np.empty(2 * hidden)  # float64 scratch: (a_r, a_z) / 2, then tanh of it
    pre_n = np.empty(hidden)
    for i in range(steps):
        t = steps - 1 - i if reverse else i
        k = active[t]
        for b in range(k):
            gh_all[b] = b_hh
        for j in range(hidden):  # rows inside the loop: W_hh's row j is read once per step, not once per row
            for b in range(k):
                h_j = h[b, j]
                for c in range(three_h):
                    gh_all[b, c] += h_j * w_hh_t[j, c]
        for b in range(k):
            gh = gh_all[b]
            for c in range(2 * hidden):
                pre_rz[c] = 0.5 * (np.float64(gi[t, b, c]) + gh[c])
            _tanh_inplace(pre_rz, exact)
            for c in range(hidden):
                pre_n[c] = gi[t, b, 2 * hidden + c] + 0.5 * (1.0 + pre_rz[c]) * gh[2 * hidden + c]
            _tanh_inplace(pre_n, exact)
            for c in range(hidden):
                r = 0.5 * (1.0 + pre_rz[c])
                z = 0.5 * (1.0 + pre_rz[hidden + c])
                n_c = pre_n[c]
                h_c = h[b, c]
                rz[t, b, c] = r
                rz[t, b, hidden + c] = z
                n[t, b, c] = n_c
                gh_n[t, b, c] = gh[2 * hidden + c]
                h_prev[t, b, c] = h_c
                h[b, c] = n_c + z * (h_c - n_c)
                out[t, b, c] = h[b, c]
    return out, h_prev, rz, n, gh_n


@numba.njit(cache=True, error_model="numpy")
def _backward_kernel(d_out, active, w_hh, h_prev, rz, n, gh_n, reverse):
    """Gradients of one direction w.r.t. its input projections (T,B,3H) and its hidden projections gh (T,B,3H).

    With a = pre-activations: h' = n + z (h - n), n = tanh(a_n), a_n = gi_n + r * gh_n, r/z = sigmoid(gi + gh);
    so d_gi = (d_a_r, d_a_z, d_a_n), d_gh = (d_a_r, d_a_z, r d_a_n) and the state's gradient is g z + d_gh W_hh.
    A row outside its clip passes its state (and the state's gradient) through unchanged.
    """
    steps, batch, hidden = n.shape
    three_h = 3 * hidden
    d_h = np.zeros((batch, hidden), dtype=n.dtype)
    d_gi = np.zeros((steps, batch, three_h), dtype=n.dtype)
    d_gh = np.zeros_like(d_gi)
    acc = np.empty((batch, hidden), dtype=n.dtype)
    for i in range(steps):
        t = i if reverse else steps - 1 - i
        k = active[t]
        for b in range(k):
            for c in range(hidden):
                g = d_out[t, b, c] + d_h[b, c]  # gradient reaching this step's new state
                r, z, n_c = rz[t, b, c], rz[t, b, hidden + c], n[t, b, c]
                d_a_n = g * (1.0 - z) * (1.0 - n_c * n_c)
                d_a_r = d_a_n * gh_n[t, b, c] * r * (1.0 - r)
                d_a_z = g * (h_prev[t, b, c] - n_c) * z * (1.0 - z)
                d_gi[t, b, c] = d_a_r
                d_gi[t, b, hidden + c] = d_a_z
                d_gi[t, b, 2 * hidden + c] = d_a_n
                d_gh[t, b, c] = d_a_r
                d_gh[t, b, hidden + c] = d_a_z
                d_gh[t, b, 2 * hidden + c] = d_a_n * r
                acc[b, c] = g * z
        for c in range(three_h):  # rows inside the loop: W_hh's row c is read once per step
            for b in range(k):
                d_c = d_gh[t, b, c]
                for j in range(hidden):
                    acc[b, j] += d_c * w_hh[c, j]
        for b in range(k):
            d_h[b] = acc[b]
    return d_gi, d_gh


def warm() -> None:
    """Load (or compile, the first time) the float32 kernels, as the fork server does before it forks."""
    gi = np.zeros((2, 1, 3), dtype=np.float32)
    active = np.ones(2, dtype=np.int64)
    w = np.zeros((1, 3), dtype=np.float32)
    out, *saved = _forward_kernel(gi, active, w, np.zeros(3, dtype=np.float32), False)
    _backward_kernel(out, active, w.T.copy(), *saved, False)


class _Direction(torch.autograd.Function):
    """One layer, one direction, over (T, B, 3H) input projections."""

    @staticmethod
    def forward(ctx, gi, active, w_hh, b_hh, reverse):
        w = w_hh.detach().numpy()
        out, *saved = _forward_kernel(gi.detach().numpy(), active, w.T.copy(), b_hh.detach().numpy(), reverse)
        ctx.saved = saved
        ctx.active, ctx.w, ctx.reverse = active, w, reverse
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, d_out):
        d_gi, d_gh = _backward_kernel(d_out.contiguous().numpy(), ctx.active, ctx.w, *ctx.saved, ctx.reverse)
        h_prev = ctx.saved[0]
        flat_gh = torch.from_numpy(d_gh).reshape(-1, d_gh.shape[2])
        d_w = flat_gh.t() @ torch.from_numpy(h_prev).reshape(-1, h_prev.shape[2])  # torch: its thread setting
        return torch.from_numpy(d_gi), None, d_w, flat_gh.sum(0), None


def run_gru(gru: nn.GRU, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Outputs (B, T, D*H) of a batch-first `gru` over x (B, T, in), zeros at padded frames (mask True = pad).

    CPU float32/float64 goes through the kernels above; anything else (CUDA, bf16 autocast) through `gru` itself,
    packed when there is padding.
    """
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or torch.is_autocast_enabled("cpu"):
        return _run_module(gru, x, padding_mask)
    batch, steps = x.shape[:2]
    lengths, order = _lengths(padding_mask, batch, steps)
    active = (lengths[None, :] > torch.arange(steps)[:, None]).sum(1).numpy().astype(np.int64)
    layer_in = x[order].transpose(0, 1)  # (T, B, in), longest clip first
    directions = 2 if gru.bidirectional else 1
    for layer in range(gru.num_layers):
        if layer and gru.dropout and gru.training:
            layer_in = nn.functional.dropout(layer_in, gru.dropout, training=True)
        outs = []
        for direction in range(directions):
            sfx = f"_l{layer}" + ("_reverse" if direction else "")
            w_ih, w_hh = getattr(gru, "weight_ih" + sfx), getattr(gru, "weight_hh" + sfx)
            b_ih, b_hh = getattr(gru, "bias_ih" + sfx), getattr(gru, "bias_hh" + sfx)
            gi = torch.addmm(b_ih, layer_in.reshape(steps * batch, -1), w_ih.t()).reshape(steps, batch, -1)
            outs.append(_Direction.apply(gi.contiguous(), active, w_hh, b_hh, bool(direction)))
        layer_in = torch.cat(outs, dim=-1) if directions == 2 else outs[0]
    return layer_in.transpose(0, 1)[torch.argsort(order)]


def _lengths(padding_mask: torch.Tensor | None, batch: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip lengths and the longest-first row order; padding must be a suffix of each row (as collation makes)."""
    if padding_mask is None:
        return torch.full((batch,), steps), torch.arange(batch)
    lengths = (~padding_mask).sum(1)
    if not torch.equal(padding_mask.cpu(), torch.arange(steps)[None, :] >= lengths.cpu()[:, None]):
        raise ValueError("run_gru: padding_mask must mark a suffix of each row (valid frames first, then padding)")
    return lengths.cpu(), torch.sort(lengths.cpu(), descending=True, stable=True).indices


def _run_module(gru: nn.GRU, x: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
    if padding_mask is None:
        return gru(x)[0]
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    lengths = (~padding_mask).sum(1).clamp(min=1).cpu()
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = gru(packed)
    return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]
