"""Utterance classification (discrete emotion, isolated words): encoder -> BiGRU -> masked mean -> linear.

Labels: ``batch[label_key]`` int64 (B,) — class indices built by the task registry from the clip index
(emotion name or word -> index in a sorted class list). Used for both emotion (audio encoder) and word
recognition (audio or video encoder).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avssl.tasks.base import FinetuneObjective
from avssl.tasks.gru_head import BiGRUHead, masked_mean


class ClassificationObjective(FinetuneObjective):
    def __init__(self, encoder: nn.Module, modality: str, feat_dim: int, num_classes: int, *,
                 hidden: int = 256, layers: int = 2, dropout: float = 0.0, freeze_encoder: bool = False,
                 lr_head: float = 1e-4, lr_encoder: float = 1e-4, weight_decay: float = 0.0,
                 betas: tuple = (0.9, 0.999), noise_augment=None, label_key: str = "label",
                 label_smoothing: float = 0.0, feature_norm: bool = False, optimizer: str = "adam"):
        super().__init__(encoder, modality, freeze_encoder, noise_augment, feat_dim if feature_norm else None)
        self.head = BiGRUHead(feat_dim, hidden, layers, dropout)
        self.classifier = nn.Linear(self.head.out_dim, num_classes)
        self.num_classes, self.label_key, self.label_smoothing = num_classes, label_key, label_smoothing
        self.lr_head, self.lr_encoder, self.weight_decay, self.betas = lr_head, lr_encoder, weight_decay, betas
        self.optimizer = optimizer  # finetune.<task>.optimizer: Adam (Shukla protocol) or AdamW

    def logits(self, batch: dict) -> torch.Tensor:
        feats, pm = self.encode(batch)
        h = self.head(feats, pm)
        return self.classifier(masked_mean(h, pm))

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        logits = self.logits(batch)
        target = batch[self.label_key].to(logits.device)
        loss = F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
        acc = (logits.argmax(-1) == target).float().mean()
        return {"loss": loss, "acc": acc.detach()}

    @torch.no_grad()
    def predict(self, batch: dict) -> dict[str, torch.Tensor]:
        logits = self.logits(batch)
        return {"pred": logits.argmax(-1), "logits": logits}

    def param_groups(self) -> list[dict]:
        return self.head_and_encoder_groups(self.head, self.classifier)
