"""Attribute head: a small per-frame MLP from encoder features to the audio attributes.

Kept deliberately small so the encoder, not the head, has to carry the information; it is a pretext
head and is not exported.
"""

from __future__ import annotations

from torch import Tensor, nn


class AttributeHead(nn.Module):
    """``(B, T, D) -> (B, T, n_attributes)``."""

    def __init__(self, in_dim: int, n_attributes: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_attributes))

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)
