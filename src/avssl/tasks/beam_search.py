"""Joint CTC/attention beam search (label-synchronous), batched over the hypotheses of one utterance.

score(h) = sum over steps of  (1 - ctc_weight) * log p_att(c | h) + ctc_weight * [psi_ctc(h+c) - psi_ctc(h)]
           + lm_weight * log p_lm(c | h) + length_bonus
(ESPnet's formulation as used by RAVEn; paper setting beam 40, ctc_weight 0.1.)

Why batched: every step runs the decoder once for all live hypotheses (with cached keys/values) and the CTC
prefix recursion once for all (hypothesis, candidate) pairs; the CTC part is restricted to the
``pre_beam`` best candidates by attention(+LM) score, as in ESPnet, since scoring the full vocabulary for
every hypothesis is the dominant cost.

External LM hook: ``lm(prefixes)`` gets a LongTensor (N, i+1) of token ids starting with <sos> and returns
(N, V) next-token log-probabilities in the same vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from avssl.tasks.ctc_prefix_score import CTCPrefixScorer

LMFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class BeamSearchConfig:
    beam_size: int = 40
    ctc_weight: float = 0.1
    length_bonus: float = 0.0
    lm_weight: float = 0.0
    pre_beam_ratio: float = 1.5
    max_len_ratio: float = 1.0  # max output tokens = ratio * encoder frames (CTC cannot emit more)


@torch.no_grad()
def beam_search(decoder, memory: torch.Tensor, ctc_log_probs: torch.Tensor | None, *, sos: int, eos: int,
                blank: int = 0, cfg: BeamSearchConfig = BeamSearchConfig(), lm: Optional[LMFn] = None,
                return_score: bool = False):
    """Decode ONE utterance. ``memory`` (T, D) decoder memory, ``ctc_log_probs`` (T, V) (or None when
    ctc_weight == 0). Returns the best token list (without sos/eos) [, its score]."""
    device = memory.device
    T = memory.shape[0]
    V = decoder.vocab_size
    beam = cfg.beam_size
    w_ctc = cfg.ctc_weight if ctc_log_probs is not None else 0.0
    w_att = 1.0 - w_ctc
    use_lm = lm is not None and cfg.lm_weight != 0
    max_len = max(1, int(cfg.max_len_ratio * T))
    pre_beam = min(V, max(beam, int(cfg.pre_beam_ratio * beam)))
    if w_att == 0 and not use_lm:  # nothing cheap to pre-select with: let CTC score the whole vocabulary
        pre_beam = V

    state = decoder.init_state(memory[None])
    tokens = torch.full((1, 1), sos, dtype=torch.long, device=device)  # (N, i+1)
    scores = torch.zeros(1, device=device)
    if w_ctc > 0:
        scorer = CTCPrefixScorer(ctc_log_probs, blank=blank, eos=eos)
        ctc_r, ctc_psi = scorer.initial_state()

    ended: list[tuple[float, list[int]]] = []
    for i in range(max_len):
        N = tokens.shape[0]
        att, state = decoder.step(tokens[:, -1], state)  # (N, V)
        weighted = w_att * att
        if use_lm:
            weighted = weighted + cfg.lm_weight * lm(tokens).to(weighted)
        weighted[:, blank] = float("-inf")
        if i == max_len - 1:  # last step: only <eos> may follow
            keep = weighted[:, eos].clone()
            weighted.fill_(float("-inf"))
            weighted[:, eos] = keep
        if w_ctc > 0:
            k = min(pre_beam, V)
            cand_scores, cand = weighted.topk(k, dim=-1)  # (N, K)
            last = tokens[:, -1] if i > 0 else None
            delta, r_new, psi_new = scorer.score(ctc_r, ctc_psi, last, i, cand)
            total = scores[:, None] + cand_scores + w_ctc * delta + cfg.length_bonus
        else:
            k = min(beam, V)
            cand_scores, cand = weighted.topk(k, dim=-1)
            total = scores[:, None] + cand_scores + cfg.length_bonus

        flat = total.view(-1)
        n_best = min(beam, int(torch.isfinite(flat).sum()))
        if n_best == 0:
            break
        best_scores, best_idx = flat.topk(n_best)
        parent = best_idx // k
        col = best_idx % k
        new_tok = cand[parent, col]

        is_end = new_tok == eos
        for j in torch.nonzero(is_end).flatten().tolist():
            ended.append((float(best_scores[j]), tokens[parent[j], 1:].tolist()))
        live = ~is_end
        if not live.any():
            break
        parent, col, new_tok, best_scores = parent[live], col[live], new_tok[live], best_scores[live]
        tokens = torch.cat([tokens[parent], new_tok[:, None]], dim=1)
        scores = best_scores
        state = decoder.select_state(state, parent)
        if w_ctc > 0:
            ctc_r = r_new[parent, col]
            ctc_psi = psi_new[parent, col]
        # Early stop: every future increment is <= length_bonus (log-probs and CTC deltas are <= 0).
        if ended:
            best_end = max(s for s, _ in ended)
            remaining = max_len - (i + 1)
            if float(scores.max()) + max(cfg.length_bonus, 0.0) * remaining < best_end:
                break
    if not ended:  # cannot happen with the forced <eos> at max_len, kept for safety
        ended.append((float(scores[0]), tokens[0, 1:].tolist()))
    best_score, best = max(ended, key=lambda x: x[0])
    return (best, best_score) if return_score else best
