"""CTC prefix scoring for joint CTC/attention decoding, vectorised over utterances x hypotheses x candidates.

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

import copy

import torch

NEG_INF = float("-inf")


class CTCPrefixScorer:
    """Prefix scorer for a batch of utterances. ``log_probs`` (B, T, V) CTC log-probabilities, ``lengths`` (B,)
    valid frames of each (None = all T).

    Why per-utterance lengths: batched beam search pads the utterances to the longest. Padding frames are set to
    probability 1 (log 0) so that the cumulative sums stay finite, and kept out of every result: the recursion is
    causal (a valid frame never reads a later one), the prefix score sums valid frames only, and <eos> reads each
    utterance's own last frame.
    """

    def __init__(self, log_probs: torch.Tensor, blank: int, eos: int, lengths: torch.Tensor | None = None):
        B, T, _ = log_probs.shape
        frames = torch.arange(T, device=log_probs.device)
        lengths = torch.full((B,), T, device=log_probs.device) if lengths is None else lengths.to(log_probs.device)
        self.valid = frames[None] < lengths[:, None]  # (B, T)
        self.last_frame = (lengths - 1).long()
        # float64 (see module docstring); a -inf log-probability would make A_t - A_{t-1} undefined, and
        # e^-1e4 is zero in any precision, so clamping changes no probability. Stored (B, V, T): every scan runs
        # over frames, and along contiguous memory torch's cumsum/logcumsumexp are several times faster.
        x = log_probs.double().clamp(min=-1e4).masked_fill(~self.valid[..., None], 0.0)
        self.x = x.transpose(1, 2).contiguous()
        self.blank, self.eos = blank, eos

    def select(self, rows: torch.Tensor) -> "CTCPrefixScorer":
        """The scorer of a subset of the utterances (finished ones leave the batch)."""
        new = copy.copy(self)
        new.x, new.valid, new.last_frame = self.x[rows], self.valid[rows], self.last_frame[rows]
        return new

    def initial_state(self) -> tuple[torch.Tensor, torch.Tensor]:
        """State (B, 1, ...) of the empty prefix (<sos>): r^n = -inf, r^b_t = sum_{s<=t} log p(blank); psi = 0."""
        B, _, T = self.x.shape
        r = torch.full((B, 1, 2, T), NEG_INF, dtype=self.x.dtype, device=self.x.device)
        r[:, 0, 1] = torch.cumsum(self.x[:, self.blank], dim=1)
        return r, torch.zeros(B, 1, dtype=self.x.dtype, device=self.x.device)

    def score(self, r_prev: torch.Tensor, psi_prev: torch.Tensor, last: torch.Tensor | None,
              prefix_len: int, cand: torch.Tensor):
        """Extend W prefixes per utterance (all of ``prefix_len`` labels) by K candidates each.

        r_prev (B, W, 2, T) (log r^n, log r^b), psi_prev (B, W), last (B, W) last label of each prefix (None for
        the empty prefix), cand (B, W, K) candidate labels. Returns (delta (B, W, K) = psi(g+c) - psi(g),
        r_new (B, W, K, 2, T), psi (B, W, K)).
        """
        B, W, K = cand.shape
        T = self.x.shape[2]
        xc = self.x.gather(1, cand.reshape(B, W * K, 1).expand(B, W * K, T)).view(B, W, K, T)  # log p_t(c)
        r_sum = torch.logaddexp(r_prev[:, :, 0], r_prev[:, :, 1])  # (B, W, T) total prob of g up to t
        # phi_t = prob of g ending at t such that c may follow as a new label (repeat needs a blank between)
        phi = r_sum[:, :, None].expand(B, W, K, T)
        if last is not None:
            phi = torch.where((cand == last[..., None])[..., None], r_prev[:, :, None, 1], phi)
        r = torch.full((B, W, K, 2, T), NEG_INF, dtype=self.x.dtype, device=self.x.device)
        start = max(1, prefix_len)
        if prefix_len == 0:
            r[..., 0, 0] = xc[..., 0]
        psi = r[..., 0, 0].clone()  # a prefix of prefix_len + 1 labels cannot end before frame prefix_len
        if T > start:
            _recurse(r, phi, xc, self.x[:, None, None, self.blank], start)
            # psi = logsumexp_t (phi_{t-1} + x_t(c)) over the valid t >= start, plus the initial term
            terms = (phi[..., start - 1 : T - 1] + xc[..., start:]).masked_fill(~self.valid[:, None, None, start:],
                                                                                NEG_INF)  # fmt: skip
            psi = torch.logaddexp(psi, torch.logsumexp(terms, dim=-1))
        # ending: the prefix probability of g+<eos> is the full probability of g at the utterance's last frame
        is_eos = cand == self.eos
        if is_eos.any():
            end = r_sum.gather(2, self.last_frame[:, None, None].expand(B, W, 1))
            psi = torch.where(is_eos, end.expand(B, W, K), psi)
        # blank is never a label
        psi = torch.where(cand == self.blank, torch.full_like(psi, NEG_INF), psi)
        return psi - psi_prev[..., None], r, psi


def _recurse(r: torch.Tensor, phi: torch.Tensor, xc: torch.Tensor, xb: torch.Tensor, start: int) -> None:
    """Fill r[..., :, start:] (B, W, K, 2, T) in place: r^n_t = (r^n_{t-1} + phi_{t-1}) p_t(c),
    r^b_t = (r^n_{t-1} + r^b_{t-1}) p_t(blank), for t >= start. ``xb`` (B, 1, 1, T) broadcasts."""
    T = r.shape[-1]
    rn, rb = r[..., 0, :], r[..., 1, :]
    rn[..., start:] = _linear_scan(rn[..., start - 1], phi[..., start - 1 : T - 1], xc[..., start:])
    rb[..., start:] = _linear_scan(rb[..., start - 1], rn[..., start - 1 : T - 1], xb[..., start:])


def _linear_scan(init: torch.Tensor, inflow: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """All y_t of y_t = (y_{t-1} + inflow_t) * p_t, t = 0..L-1, in the log domain (y_{-1} = ``init``).

    y_t = P_t * sum_{s<=t} inflow'_s / P_{s-1} with P_t = prod_{u<=t} p_u and inflow'_0 = inflow_0 + y_{-1}.
    ``init`` (...,), ``inflow`` and ``log_p`` (..., L), ``log_p`` may broadcast against ``inflow``. Differences of
    cumulative sums: call in float64.
    """
    cum = torch.cumsum(log_p, dim=-1)
    before = torch.cat([torch.zeros_like(cum[..., :1]), cum[..., :-1]], dim=-1)  # log P_{t-1}, P_{-1} = 1
    z = inflow - before
    z[..., 0] = torch.logaddexp(inflow[..., 0], init)
    return cum + torch.logcumsumexp(z, dim=-1)
