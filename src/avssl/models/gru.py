"""GRU over padded batches whose CPU cost is arithmetic, not autograd bookkeeping.

Why: the downstream heads (2-layer BiGRU) and the Shukla audio encoder (2-layer GRU) run on small batches of
short sequences. There `torch.nn.GRU` on CPU spends most of a training step in per-time-step autograd nodes:
its backward alone took 3x its forward and about 70 % of a frozen-encoder fine-tuning job. Here each layer and
direction is one autograd node: the input projections of all frames are one matrix product (autograd), the
recurrence runs in a NumPy loop that stores its gates, and the backward walks the same loop in reverse by hand
(the gradient formulas are written out in :func:`_backward_direction`). The parameters are those of the
`nn.GRU` module passed in (same names, same checkpoints); on CUDA the module's cuDNN kernel is used instead.

Masking replaces packing: a padded frame keeps the previous state and outputs zeros, so a forward pass over a
sequence of length L reads frames 0..L-1 and a backward-direction pass starts at frame L-1 from a zero state,
exactly what `pack_padded_sequence` gives. Results equal `nn.GRU`'s up to float rounding (tests/test_gru.py).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from torch import nn


@cache
def _one_blas_thread() -> None:
    """The loop's matrix products are (batch x hidden) small: extra BLAS threads only spin and contend.

    NumPy's own BLAS does not follow torch.set_num_threads; left alone it starts one thread per core in every job.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _forward_direction(gi, active, w_hh_t, b_hh, reverse):
    """Run one direction over gi (T,B,3H) input projections incl. b_ih, rows sorted longest first.

    active[t] = how many rows are still inside their clip at frame t (packing without the copies).
    """
    steps, batch, three_h = gi.shape
    hidden = three_h // 3
    h = np.zeros((batch, hidden), dtype=gi.dtype)
    out = np.zeros((steps, batch, hidden), dtype=gi.dtype)
    h_prev = np.zeros_like(out)
    rz = np.zeros((steps, batch, 2 * hidden), dtype=gi.dtype)
    n = np.zeros_like(out)
    gh_n = np.zeros_like(out)
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        k = active[t]
        h_k = h[:k]
        gh = h_k @ w_hh_t + b_hh
        rz[t, :k] = _sigmoid(gi[t, :k, : 2 * hidden] + gh[:, : 2 * hidden])
        gh_n[t, :k] = gh[:, 2 * hidden :]
        n[t, :k] = np.tanh(gi[t, :k, 2 * hidden :] + rz[t, :k, :hidden] * gh[:, 2 * hidden :])
        h_prev[t, :k] = h_k
        out[t, :k] = n[t, :k] + rz[t, :k, hidden:] * (h_k - n[t, :k])
        h[:k] = out[t, :k]
    return out, (h_prev, rz, n, gh_n)


def _backward_direction(d_out, active, w_hh, saved, reverse):
    """Gradients of one direction w.r.t. its input projections, W_hh and b_hh.

    With a = pre-activations: h' = n + z (h - n), n = tanh(a_n), a_n = gi_n + r * gh_n, r/z = sigmoid(gi + gh).
    A row outside its clip passes its state (and the state's gradient) through unchanged.
    """
    h_prev, rz, n, gh_n = saved
    steps, batch, hidden = n.shape
    d_h = np.zeros((batch, hidden), dtype=n.dtype)
    d_gi = np.zeros((steps, batch, 3 * hidden), dtype=n.dtype)
    d_gh = np.zeros_like(d_gi)
    for t in range(steps) if reverse else range(steps - 1, -1, -1):
        k = active[t]
        g = d_out[t, :k] + d_h[:k]  # gradient reaching this step's new state
        r, z, n_t = rz[t, :k, :hidden], rz[t, :k, hidden:], n[t, :k]
        d_a_n = g * (1.0 - z) * (1.0 - n_t * n_t)
        d_gi[t, :k, :hidden] = d_a_n * gh_n[t, :k] * r * (1.0 - r)
        d_gi[t, :k, hidden : 2 * hidden] = g * (h_prev[t, :k] - n_t) * z * (1.0 - z)
        d_gi[t, :k, 2 * hidden :] = d_a_n
        d_gh[t, :k, : 2 * hidden] = d_gi[t, :k, : 2 * hidden]
        d_gh[t, :k, 2 * hidden :] = d_a_n * r
        d_h[:k] = g * z + d_gh[t, :k] @ w_hh
    flat_gh = d_gh.reshape(-1, 3 * hidden)
    d_w_hh = flat_gh.T @ h_prev.reshape(-1, hidden)
    return d_gi, d_w_hh, flat_gh.sum(0)


class _Direction(torch.autograd.Function):
    """One layer, one direction, over (T, B, 3H) input projections."""

    @staticmethod
    def forward(ctx, gi, active, w_hh, b_hh, reverse):
        _one_blas_thread()
        w = w_hh.detach().numpy()
        out, saved = _forward_direction(gi.detach().numpy(), active, w.T.copy(), b_hh.detach().numpy(), reverse)
        ctx.saved = saved
        ctx.active, ctx.w, ctx.reverse = active, w, reverse
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, d_out):
        d_gi, d_w, d_b = _backward_direction(d_out.contiguous().numpy(), ctx.active, ctx.w, ctx.saved, ctx.reverse)
        return torch.from_numpy(d_gi), None, torch.from_numpy(d_w), torch.from_numpy(d_b), None


def run_gru(gru: nn.GRU, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Outputs (B, T, D*H) of a batch-first `gru` over x (B, T, in), zeros at padded frames (mask True = pad).

    CPU float32/float64 goes through the loop above; anything else (CUDA, bf16 autocast) through `gru` itself,
    packed when there is padding.
    """
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or torch.is_autocast_enabled("cpu"):
        return _run_module(gru, x, padding_mask)
    batch, steps = x.shape[:2]
    lengths, order = _lengths(padding_mask, batch, steps)
    active = [int(a) for a in (lengths[None, :] > torch.arange(steps)[:, None]).sum(1)]
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
