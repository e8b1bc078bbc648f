"""CTC prefix scoring for joint CTC/attention decoding, vectorised over hypotheses x candidate tokens.

Why: the attention decoder alone happily emits too short/long or looping outputs; adding the CTC *prefix*
probability (the total probability of all CTC paths whose labelling starts with the prefix) enforces monotonic
alignment with the input frames (Watanabe et al. 2017, "Hybrid CTC/attention"). The forward recursion over
frames is computed for every (hypothesis, candidate) pair in one tensor per frame.

State of a prefix g: log r_t^n(g) (paths ending in its last label at frame t), log r_t^b(g) (ending in blank),
for all frames t, plus its prefix score psi(g). The score of extending g by c is psi(g+c) - psi(g) (<= 0).
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


class CTCPrefixScorer:
    """Prefix scorer for ONE utterance. ``log_probs`` (T, V) CTC log-probabilities (padding frames removed)."""

    def __init__(self, log_probs: torch.Tensor, blank: int, eos: int):
        self.x = log_probs
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
        for t in range(start, T):
            r[:, :, t, 0] = torch.logaddexp(r[:, :, t - 1, 0], phi[:, :, t - 1]) + xc[:, :, t]
            r[:, :, t, 1] = torch.logaddexp(r[:, :, t - 1, 0], r[:, :, t - 1, 1]) + xb[t]
        if T > start:
            # psi = logsumexp_t (phi_{t-1} + x_t(c)) over t >= start, plus the initial term
            psi = torch.logaddexp(psi, torch.logsumexp(phi[:, :, start - 1 : T - 1] + xc[:, :, start:T], dim=-1))
        # ending: the prefix probability of g+<eos> is the full probability of g
        is_eos = cand == self.eos
        if is_eos.any():
            psi = torch.where(is_eos, r_sum[:, -1:].expand(N, K), psi)
        # blank is never a label
        psi = torch.where(cand == self.blank, torch.full_like(psi, NEG_INF), psi)
        return psi - psi_prev[:, None], r, psi
