"""Waveform helpers shared by the raw-audio encoder and the audio-attribute targets.

Both sides must see the *same* normalised signal: if the encoder z-normalises each utterance but the
targets were computed on the raw waveform, absolute loudness would be an unpredictable target.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from avssl.media import SAMPLE_RATE
from avssl.media import SAMPLES_PER_FRAME as HOP


def sample_mask(padding_mask: Tensor | None, batch: int, n_samples: int, device: torch.device) -> Tensor:
    """(B, N) bool, True = real audio; frame padding (B, T) is expanded to HOP samples per frame."""
    if padding_mask is None:
        return torch.ones(batch, n_samples, dtype=torch.bool, device=device)
    valid = (~padding_mask).repeat_interleave(HOP, dim=1)
    if valid.shape[1] < n_samples:  # trailing samples beyond T*HOP belong to no frame
        valid = F.pad(valid, (0, n_samples - valid.shape[1]), value=False)
    return valid[:, :n_samples]


def utterance_znorm(audio: Tensor, padding_mask: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Per-utterance zero mean / unit variance over the real samples (the lab's LRW practice).

    Padding does not enter the statistics and is set to exactly zero afterwards, so a padded utterance
    looks like the same utterance alone followed by silence (what the edge zero-padding gives anyway).
    Silence stays silence (std is floored by eps, nothing is divided by zero).
    """
    valid = sample_mask(padding_mask, audio.shape[0], audio.shape[1], audio.device).to(audio.dtype)
    return masked_znorm(audio, valid, eps)


def masked_znorm(x: Tensor, valid: Tensor, eps: float = 1e-5) -> Tensor:
    """Zero mean / unit variance along dim 1 over the entries where ``valid`` is 1 (0/1, broadcastable to x, e.g.
    (B, N) for audio or (B, T, 1) for frame features); the other entries come out as exactly zero."""
    count = valid.sum(dim=1, keepdim=True).clamp_min(1.0)
    mean = (x * valid).sum(dim=1, keepdim=True) / count
    var = (((x - mean) * valid) ** 2).sum(dim=1, keepdim=True) / count
    return (x - mean) / torch.sqrt(var + eps) * valid


def frame_windows(audio: Tensor, window: int, hop: int = HOP) -> Tensor:
    """(B, N) -> (B, T, window), T = N // hop: one window centred on each video frame, zero-padded at the edges."""
    n_frames = audio.shape[1] // hop
    audio = audio[:, : n_frames * hop]
    left = (window - hop) // 2
    right = window - hop - left
    padded = F.pad(audio, (left, right))
    return padded.unfold(dimension=1, size=window, step=hop)
