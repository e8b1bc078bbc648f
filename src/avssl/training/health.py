"""Representation health: the numbers that tell a collapsing pre-training from a learning one.

A self-distillation objective (RAVEn) can reach a low loss by making every feature the same (complete
collapse), by using a few directions only (dimensional collapse) or by making features constant over time
(temporal collapse: fine for a clip label, useless for words). A reconstruction objective (Shukla) can ignore
its input. The loss alone does not show any of this; these statistics of the encoder outputs do:

- ``std_batch``: per-dimension standard deviation of the utterance-mean features across the batch, averaged
  over dimensions (-> 0: every utterance looks the same),
- ``std_time``: per-dimension standard deviation over the frames of each utterance, averaged (-> 0: features
  are constant in time),
- ``effective_rank``: exp of the entropy of the normalised singular values of the frame features (Roy &
  Vetterli 2007; -> 1: one direction carries everything; at most the feature dimension),
- ``cos_consecutive``: mean cosine similarity of consecutive frames (-> 1: temporal collapse).

Computed on detached features, without drawing random numbers (frames are subsampled by a fixed stride), so
logging them changes no training result.
"""

from __future__ import annotations

import torch

MAX_FRAMES = 256


def feature_health(features: torch.Tensor, valid: torch.Tensor, prefix: str) -> dict[str, torch.Tensor]:
    """``{f"health/{prefix}/<stat>": scalar}`` for ``features`` (B, T, D) with ``valid`` (B, T) True = real frame."""
    with torch.no_grad():
        x = features.detach().float()
        w = valid.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
        n = w.sum(1).clamp_min(1)  # (B, 1)
        mean_t = (x * w).sum(1) / n  # (B, D)
        var_t = (((x - mean_t[:, None]) ** 2) * w).sum(1) / n
        out = {"std_time": var_t.clamp_min(0).sqrt().mean()}
        if x.shape[0] > 1:
            out["std_batch"] = mean_t.std(dim=0).mean()
        frames = x[valid]  # (N, D)
        if frames.shape[0] > MAX_FRAMES:
            frames = frames[:: -(-frames.shape[0] // MAX_FRAMES)]
        if frames.shape[0] >= 2:
            s = torch.linalg.svdvals(frames - frames.mean(0, keepdim=True))
            p = s / s.sum().clamp_min(1e-12)
            out["effective_rank"] = torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())
        pair = (valid[:, 1:] & valid[:, :-1]).to(x.dtype)
        if pair.sum() > 0:
            cos = torch.nn.functional.cosine_similarity(x[:, 1:], x[:, :-1], dim=-1)
            out["cos_consecutive"] = (cos * pair).sum() / pair.sum()
    return {f"health/{prefix}/{k}": v for k, v in out.items()}
