"""Joint CTC/attention beam search (label-synchronous), batched over utterances and their hypotheses.

score(h) = sum over steps of  (1 - ctc_weight) * log p_att(c | h) + ctc_weight * [psi_ctc(h+c) - psi_ctc(h)]
           + lm_weight * log p_lm(c | h) + length_bonus
(ESPnet's formulation as used by RAVEn; paper setting beam 40, ctc_weight 0.1.)

Why batched: a decoding step costs mostly per-call overhead (small matrices, dozens of torch calls), so every
step runs the decoder once for all live hypotheses of all utterances (with cached keys/values) and the CTC prefix
recursion once for all (hypothesis, candidate) pairs; the CTC part is restricted to the ``pre_beam`` best
candidates by attention(+LM) score, as in ESPnet, since scoring the full vocabulary for every hypothesis is the
dominant cost.

Layout: R active utterances x W slots. Each utterance keeps its own beam, its own ended list, its own maximum
length (``max_len_ratio`` x its frames) and its own early stop, exactly as if it were decoded alone; its live
hypotheses fill its first slots in score order and the remaining slots are empty (score -inf, a copy of a live
hypothesis so that every slot holds a valid state). W shrinks to the largest live count and finished utterances
leave the batch. Padded memory frames are masked in the source attention and the CTC scorer ignores padded
frames, so an utterance's hypotheses equal those of decoding it alone (scores up to float rounding of batched
matrix products).

External LM hook: ``lm(prefixes)`` gets a LongTensor (N, i+1) of token ids starting with <sos> (N = R x W, empty
slots included) and returns (N, V) next-token log-probabilities in the same vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from avssl.tasks.ctc_prefix_score import CTCPrefixScorer

LMFn = Callable[[torch.Tensor], torch.Tensor]
NEG_INF = float("-inf")


@dataclass
class BeamSearchConfig:
    beam_size: int = 40
    ctc_weight: float = 0.1
    length_bonus: float = 0.0
    lm_weight: float = 0.0
    pre_beam_ratio: float = 1.5
    max_len_ratio: float = 1.0  # max output tokens = ratio * encoder frames (CTC cannot emit more)


@dataclass
class _Search:
    """What stays fixed during one search: weights, token ids, candidates per hypothesis, length limits."""

    cfg: BeamSearchConfig
    sos: int
    eos: int
    blank: int
    w_ctc: float
    k: int  # candidates per hypothesis
    max_len: torch.Tensor  # (B,) per utterance
    lm: Optional[LMFn]

    @classmethod
    def make(cls, V: int, cfg: BeamSearchConfig, has_ctc: bool, lm, lengths: torch.Tensor, sos, eos, blank):
        w_ctc = cfg.ctc_weight if has_ctc else 0.0
        use_lm = lm is not None and cfg.lm_weight != 0
        pre_beam = min(V, max(cfg.beam_size, int(cfg.pre_beam_ratio * cfg.beam_size)))
        if 1.0 - w_ctc == 0 and not use_lm:  # nothing cheap to pre-select with: let CTC score the whole vocabulary
            pre_beam = V
        k = min(pre_beam, V) if w_ctc > 0 else min(cfg.beam_size, V)
        max_len = (cfg.max_len_ratio * lengths.double()).long().clamp(min=1)  # int(ratio * T) as a float product
        return cls(cfg, sos, eos, blank, w_ctc, k, max_len, lm if use_lm else None)


@dataclass
class _Beams:
    """The live hypotheses: R active utterances (``rows``: their indices in the batch) x W slots."""

    rows: torch.Tensor  # (R,)
    tokens: torch.Tensor  # (R, W, i + 1), starting with <sos>
    scores: torch.Tensor  # (R, W); -inf = empty slot
    dec: dict  # decoder state, hypotheses flattened row-major (R * W)
    ctc: tuple | None  # CTC prefix state: r (R, W, T, 2), psi (R, W)
    scorer: CTCPrefixScorer | None  # of the R active utterances


@torch.no_grad()
def beam_search(decoder, memory: torch.Tensor, ctc_log_probs: torch.Tensor | None, *, sos: int, eos: int,
                blank: int = 0, cfg: BeamSearchConfig = BeamSearchConfig(), lm: Optional[LMFn] = None,
                return_score: bool = False):
    """Decode ONE utterance. ``memory`` (T, D) decoder memory, ``ctc_log_probs`` (T, V) (or None when
    ctc_weight == 0). Returns the best token list (without sos/eos) [, its score]."""
    ctc = None if ctc_log_probs is None else ctc_log_probs[None]
    return batch_beam_search(decoder, memory[None], ctc, sos=sos, eos=eos, blank=blank, cfg=cfg, lm=lm,
                             return_score=return_score)[0]  # fmt: skip


@torch.no_grad()
def batch_beam_search(decoder, memory: torch.Tensor, ctc_log_probs: torch.Tensor | None,
                      lengths: torch.Tensor | None = None, *, sos: int, eos: int, blank: int = 0,
                      cfg: BeamSearchConfig = BeamSearchConfig(), lm: Optional[LMFn] = None,
                      return_score: bool = False) -> list:
    """Decode B utterances at once. ``memory`` (B, T, D) padded decoder memory, ``ctc_log_probs`` (B, T, V) (or
    None when ctc_weight == 0), ``lengths`` (B,) valid frames (None = all T). Returns per utterance the best
    token list (without sos/eos) [, its score], the same as :func:`beam_search` of each utterance alone."""
    B, T = memory.shape[:2]
    lengths = torch.full((B,), T, dtype=torch.long) if lengths is None else lengths.long()
    lengths = lengths.to(memory.device)
    s = _Search.make(decoder.vocab_size, cfg, ctc_log_probs is not None, lm, lengths, sos, eos, blank)
    beams = _initial_beams(decoder, memory, ctc_log_probs, lengths, s)
    ended: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    i = 0
    while beams.rows.numel():
        total, cand, ctc_new = _expand(decoder, beams, s, i)
        beams = _prune(decoder, beams, total, cand, ctc_new, s, i, ended)
        i += 1
    best = [max(e, key=lambda x: x[0]) for e in ended]
    return [(h, score) if return_score else h for score, h in best]


def _initial_beams(decoder, memory, ctc_log_probs, lengths, s: _Search) -> _Beams:
    """One hypothesis (<sos>) per utterance; padded frames masked in the decoder's source attention."""
    B, T = memory.shape[:2]
    pad = torch.arange(T, device=memory.device)[None] >= lengths[:, None]
    state = decoder.init_state(memory, pad if bool(pad.any()) else None)
    tokens = torch.full((B, 1, 1), s.sos, dtype=torch.long, device=memory.device)
    scores = torch.zeros(B, 1, device=memory.device)
    scorer = CTCPrefixScorer(ctc_log_probs, s.blank, s.eos, lengths) if s.w_ctc > 0 else None
    ctc = scorer.initial_state() if scorer is not None else None
    return _Beams(torch.arange(B, device=memory.device), tokens, scores, state, ctc, scorer)


def _expand(decoder, beams: _Beams, s: _Search, i: int):
    """Scores of the K best candidates of every slot: total (R, W, K), cand (R, W, K), new CTC states."""
    R, W, L = beams.tokens.shape
    att, beams.dec = decoder.step(beams.tokens[..., -1].reshape(-1), beams.dec)  # (R * W, V)
    weighted = (1.0 - s.w_ctc) * att
    if s.lm is not None:
        weighted = weighted + s.cfg.lm_weight * s.lm(beams.tokens.reshape(R * W, L)).to(weighted)
    weighted = weighted.view(R, W, -1)
    weighted[..., s.blank] = NEG_INF
    last = s.max_len[beams.rows] - 1 == i  # an utterance's last step: only <eos> may follow
    if bool(last.any()):
        not_eos = torch.arange(weighted.shape[-1], device=weighted.device) != s.eos
        weighted = weighted.masked_fill(last[:, None, None] & not_eos, NEG_INF)
    cand_scores, cand = weighted.topk(s.k, dim=-1)
    if beams.scorer is None:
        return beams.scores[..., None] + cand_scores + s.cfg.length_bonus, cand, None
    prev = beams.tokens[..., -1] if i > 0 else None
    delta, r_new, psi_new = beams.scorer.score(*beams.ctc, prev, i, cand)
    return beams.scores[..., None] + cand_scores + s.w_ctc * delta + s.cfg.length_bonus, cand, (r_new, psi_new)


def _prune(decoder, beams: _Beams, total, cand, ctc_new, s: _Search, i: int, ended: list) -> _Beams:
    """Keep each utterance's ``beam_size`` best extensions: those ending in <eos> go to its ended list, the rest
    fill its first slots in score order; utterances without live hypotheses or stopped early leave the batch."""
    R, W, K = total.shape
    best, idx = total.view(R, W * K).topk(min(s.cfg.beam_size, W * K), dim=-1)  # sorted, as alone
    parent, col = idx // K, idx % K
    tok = cand.view(R, W * K).gather(1, idx)
    finite = torch.isfinite(best)
    is_end = finite & (tok == s.eos)
    _record_ended(beams, best, parent, is_end, finite, ended)
    live = finite & ~is_end
    order = torch.sort((~live).to(torch.int8), dim=1, stable=True).indices  # live first, order kept
    best, parent, col, tok, live = (t.gather(1, order) for t in (best, parent, col, tok, live))
    keep = live.any(1) & ~_stops_early(beams.rows, best, live, s, i, ended)
    kept = torch.nonzero(keep).flatten()
    W2 = int(live[kept].sum(1).max()) if kept.numel() else 0
    live, best = live[kept, :W2], best[kept, :W2]
    # empty slots copy the utterance's best live hypothesis (a valid state) and score -inf
    parent, col, tok = (torch.where(live, t[kept, :W2], t[kept, :1]) for t in (parent, col, tok))
    tokens = torch.cat([beams.tokens[kept[:, None], parent], tok[..., None]], dim=-1)
    dropped = kept.numel() < R
    dec = decoder.select_state(beams.dec, (kept[:, None] * W + parent).flatten(), kept if dropped else None)
    ctc = None if ctc_new is None else tuple(t[kept[:, None], parent, col] for t in ctc_new)
    scorer = beams.scorer.select(kept) if dropped and beams.scorer is not None else beams.scorer
    return _Beams(beams.rows[kept], tokens, best.masked_fill(~live, NEG_INF), dec, ctc, scorer)


def _record_ended(beams: _Beams, best, parent, is_end, finite, ended: list) -> None:
    """Append the hypotheses that just emitted <eos> to their utterance's ended list (in score order, as
    alone); an utterance without any finite extension and nothing ended keeps its best live hypothesis."""
    for r, j in torch.nonzero(is_end).tolist():
        ended[int(beams.rows[r])].append((float(best[r, j]), beams.tokens[r, parent[r, j], 1:].tolist()))
    for r in torch.nonzero(~finite.any(1)).flatten().tolist():  # cannot happen with the forced <eos> at max_len
        u = int(beams.rows[r])
        if not ended[u]:
            ended[u].append((float(beams.scores[r, 0]), beams.tokens[r, 0, 1:].tolist()))


def _stops_early(rows, best, live, s: _Search, i: int, ended: list) -> torch.Tensor:
    """(R,) bool: no live hypothesis can still beat the best ended one, since every future increment is
    <= length_bonus (log-probabilities and CTC deltas are <= 0)."""
    best_end = torch.tensor([max((e for e, _ in ended[u]), default=NEG_INF) for u in rows.tolist()],
                            dtype=torch.float64, device=best.device)  # fmt: skip
    best_live = best.masked_fill(~live, NEG_INF).max(1).values.double()
    remaining = (s.max_len[rows] - (i + 1)).double()
    beaten = (best_live + max(s.cfg.length_bonus, 0.0) * remaining < best_end) & torch.isfinite(best_end)
    return beaten | (remaining <= 0)  # the forced <eos> ended every hypothesis
