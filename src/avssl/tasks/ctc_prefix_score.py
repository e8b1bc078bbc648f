"""CTC prefix scoring for joint CTC/attention decoding, vectorised over hypotheses x candidate tokens.

Why: the attention decoder alone happily emits too short/long or looping outputs; adding the CTC *prefix*
probability (the total probability of all CTC paths whose labelling starts with the prefix) enforces monotonic
alignment with the input frames (Watanabe et al. 2017, "Hybrid CTC/attention").

The forward recursion over frames is linear in the probability domain (r_t = (r_{t-1} + phi_{t-1}) * p_t(c)), so
it is solved in closed form for all frames at once: with A_t = sum_{u<=t} log p_u(c),
log r_t = A_t + logcumsumexp_s(phi_{s-1} - A_{s-1}); likewise for the blank-ending paths. Two ``logcumsumexp``
calls replace a Python loop over frames (which was two thirds of the beam search's time). The differences of
cumulative sums lose precision in float32 (|A_t| reaches thousands), so the scorer works in float64, where the
closed form agrees with the frame loop to ~1e-12.

State of a prefix g: log r_t^n(g) (paths ending in its last label at frame t), log r_t^b(g) (ending in blank),
for all frames t, plus its prefix score psi(g). The score of extending g by c is psi(g+c) - psi(g) (<= 0).
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


class CTCPrefixScorer:
    """Prefix scorer for ONE utterance. ``log_probs`` (T, V) CTC log-probabilities (padding frames removed)."""

    def __init__(self, log_probs: torch.Tensor, blank: int, eos: int):
        # float64 (see module docstring); a -inf log-probability would make A_t - A_{t-1} undefined, and
        # e^-1e4 is zero in any precision, so clamping changes no probability
        self.x = log_probs.double().clamp(min=-1e4)
        self.T = log_probs.shape[0]
        self.blank, self.eos = blank, eos

    def initial_state(self) -> tuple[torch.Tensor, torch.Tensor]:
        """State of the empty prefix (<sos>): r^n = -inf, r^b_t = sum_{s<=t} log p(blank); psi = 0."""
        r = torch.full((1, self.T, 2), NEG_INF, dtype=self.x.dtype, device=self.x.device)
        r[0, :, 1] = torch.cumsum(self.x[:, self.blank], dim=0)
        return r, torch.zeros(1, dtype=self.x.dtype, device=self.x.device)

    def score(self, r_prev: torch.Tensor, psi_prev: torch.Tensor, last: torch.Tensor | None,
              prefix_len: int, cand: torch.Tensor):
        """Extend N prefixes (all of ``prefix_len`` labels) by K candidates each.

        r_prev (N, T, 2), psi_prev (N,), last (N,) last label of each prefix (None for the empty prefix),
        cand (N, K) candidate labels. Returns (delta (N, K) = psi(g+c) - psi(g), r_new (N, K, T, 2), psi (N, K)).
        """
        N, K = cand.shape
        T = self.T
        xc = self.x[:, cand].permute(1, 2, 0)  # (N, K, T): log p_t(c)
        xb = self.x[:, self.blank]  # (T,)
        r = torch.full((N, K, T, 2), NEG_INF, dtype=self.x.dtype, device=self.x.device)
        r_sum = torch.logaddexp(r_prev[..., 0], r_prev[..., 1])  # (N, T) total prob of g up to t
        # phi_t = prob of g ending at t such that c may follow as a new label (repeat needs a blank between)
        phi = r_sum[:, None, :].expand(N, K, T).clone()
        if last is not None:
            same = cand == last[:, None]
            phi[same] = r_prev[:, None, :, 1].expand(N, K, T)[same]
        start = max(1, prefix_len)
        if prefix_len == 0:
            r[:, :, 0, 0] = xc[:, :, 0]
        psi = r[:, :, start - 1, 0].clone()
        if T > start:
            # r^n_t = (r^n_{t-1} + phi_{t-1}) p_t(c) and r^b_t = (r^n_{t-1} + r^b_{t-1}) p_t(blank), t >= start
            r[..., start:, 0] = _linear_scan(r[..., start - 1, 0], phi[..., start - 1 : T - 1], xc[..., start:])
            r[..., start:, 1] = _linear_scan(r[..., start - 1, 1], r[..., start - 1 : T - 1, 0],
                                             xb[start:].expand(N, K, T - start))  # fmt: skip
            # psi = logsumexp_t (phi_{t-1} + x_t(c)) over t >= start, plus the initial term
            psi = torch.logaddexp(psi, torch.logsumexp(phi[:, :, start - 1 : T - 1] + xc[:, :, start:T], dim=-1))
        # ending: the prefix probability of g+<eos> is the full probability of g
        is_eos = cand == self.eos
        if is_eos.any():
            psi = torch.where(is_eos, r_sum[:, -1:].expand(N, K), psi)
        # blank is never a label
        psi = torch.where(cand == self.blank, torch.full_like(psi, NEG_INF), psi)
        return psi - psi_prev[:, None], r, psi


def _linear_scan(init: torch.Tensor, inflow: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """All y_t of y_t = (y_{t-1} + inflow_t) * p_t, t = 0..L-1, in the log domain (y_{-1} = ``init``).

    y_t = P_t * sum_{s<=t} inflow'_s / P_{s-1} with P_t = prod_{u<=t} p_u and inflow'_0 = inflow_0 + y_{-1}.
    ``init`` (...,), ``inflow`` and ``log_p`` (..., L). Differences of cumulative sums: call in float64.
    """
    cum = torch.cumsum(log_p, dim=-1)
    before = torch.cat([torch.zeros_like(cum[..., :1]), cum[..., :-1]], dim=-1)  # log P_{t-1}, P_{-1} = 1
    z = inflow - before
    z[..., 0] = torch.logaddexp(inflow[..., 0], init)
    return cum + torch.logcumsumexp(z, dim=-1)
