"""Continuous affect: per-frame arousal/valence regression with a CCC loss.

Why CCC as the loss: CCC is the evaluation metric and, unlike MSE, rewards tracking the target's scale and mean,
so optimising 1 - CCC directly is the standard choice (AVEC/SEWA). CCC is computed over all valid frames of the
batch pooled, per dimension; padded frames are excluded. Targets: ``batch["affect"]`` float (B, T, 2)
(arousal, valence), from ``ds.annotations(clip_id)``.
"""

from __future__ import annotations

import torch
from torch import nn

from avssl.tasks.base import FinetuneObjective
from avssl.tasks.gru_head import BiGRUHead


def ccc_per_dim(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """(D,) CCC of pred/target (B, T, D) over valid frames (valid (B, T) True = real frame)."""
    if valid is None:
        valid = torch.ones(pred.shape[:2], dtype=torch.bool, device=pred.device)
    p, t = pred[valid], target[valid]  # (n, D)
    mp, mt = p.mean(0), t.mean(0)
    vp, vt = p.var(0, unbiased=False), t.var(0, unbiased=False)
    cov = ((p - mp) * (t - mt)).mean(0)
    return 2 * cov / (vp + vt + (mp - mt) ** 2 + 1e-8)


class AffectObjective(FinetuneObjective):
    def __init__(self, encoder: nn.Module, modality: str, feat_dim: int, *, n_outputs: int = 2, hidden: int = 256,
                 layers: int = 2, dropout: float = 0.0, freeze_encoder: bool = False, lr_head: float = 1e-4,
                 lr_encoder: float = 1e-4, weight_decay: float = 0.0, betas: tuple = (0.9, 0.999),
                 noise_augment=None, target_key: str = "affect", feature_norm: bool = False, optimizer: str = "adam"):
        super().__init__(encoder, modality, freeze_encoder, noise_augment, feat_dim if feature_norm else None)
        self.head = BiGRUHead(feat_dim, hidden, layers, dropout)
        self.regressor = nn.Linear(self.head.out_dim, n_outputs)
        self.target_key = target_key
        self.lr_head, self.lr_encoder, self.weight_decay, self.betas = lr_head, lr_encoder, weight_decay, betas
        self.optimizer = optimizer  # finetune.<task>.optimizer: Adam (Shukla protocol) or AdamW

    def frames(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats, pm = self.encode(batch)
        return self.regressor(self.head(feats, pm)), pm

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        pred, pm = self.frames(batch)
        target = batch[self.target_key].to(pred)
        T = min(pred.shape[1], target.shape[1])
        pred, target = pred[:, :T], target[:, :T]
        valid = None if pm is None else ~pm[:, :T]
        ccc = ccc_per_dim(pred, target, valid)
        out = {"loss": 1 - ccc.mean()}
        for i, name in enumerate(("ccc_arousal", "ccc_valence")[: len(ccc)]):
            out[name] = ccc[i].detach()
        return out

    @torch.no_grad()
    def predict(self, batch: dict) -> dict[str, torch.Tensor]:
        pred, pm = self.frames(batch)
        return {"pred": pred, "padding_mask": pm}

    def param_groups(self) -> list[dict]:
        return self.head_and_encoder_groups(self.head, self.regressor)
