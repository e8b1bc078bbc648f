"""Span masking of frame sequences (one mask shared by video and audio in RAVEn).

Two readings of "mask_prob 0.2, span 3":
- ``fairseq`` (what the official code ran, fairseq's ``compute_mask_indices``): per sequence of valid length
  L, draw ``int(p * L / span + U[0,1))`` (at least ``min_masks``) distinct span starts from ``[0, L - span)``;
  overlapping spans merge, so slightly less than p of the frames are masked (~18.7 % for 0.2 / 3).
- ``literal`` (the paper's wording): every valid frame starts a span with probability p, i.e.
  1 - (1 - p)^span of the frames (~48.8 %) are masked.
Spans never cover padding. Deterministic given a ``torch.Generator``. (Unlike old fairseq we do not subsample
every row of a batch down to the smallest row's count: that couples rows and is an artefact of wav2vec 2.0.)
"""

from __future__ import annotations

import torch

SAMPLES_PER_FRAME = 640


def expected_mask_fraction(mask_prob: float, span: int, mode: str = "fairseq", length: int | None = None) -> float:
    """Expected masked fraction of a long sequence (``length`` refines the fairseq case for finite L)."""
    if mode == "literal":
        return 1.0 - (1.0 - mask_prob) ** span
    if mode != "fairseq":
        raise ValueError(f"unknown mask mode {mode!r}")
    if length is None:
        return 1.0 - (1.0 - mask_prob / span) ** span
    n_starts = max(1, length - span)
    q = min(1.0, (mask_prob * length / span) / n_starts)  # per-start selection probability (independence approx.)
    covered = 0.0
    for j in range(length):  # frame j is covered by starts in [j - span + 1, j] that exist
        c = min(j, n_starts - 1) - max(0, j - span + 1) + 1
        covered += 1.0 - (1.0 - q) ** max(c, 0)
    return covered / length


def span_mask(lengths: torch.Tensor, T: int, mask_prob: float, span: int, mode: str = "fairseq",
              min_masks: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B,) valid lengths -> (B, T) bool mask, True = masked frame (on the CPU; move it yourself)."""
    lengths = lengths.detach().to("cpu", torch.long)
    B = lengths.shape[0]
    mask = torch.zeros(B, T, dtype=torch.bool)
    if mask_prob <= 0 or span <= 0:
        return mask
    if mode == "literal":
        starts = torch.rand(B, T, generator=generator) < mask_prob
        for k in range(span):  # dilate each start over the following span-1 frames
            mask[:, k:] |= starts[:, : T - k]
    elif mode == "fairseq":
        for b in range(B):
            L = int(lengths[b])
            if L <= 0:
                continue
            n = int(mask_prob * L / span + float(torch.rand((), generator=generator)))
            n = max(min_masks, n)
            width = span
            if L - width <= n:  # too short for n spans of full width (fairseq's rule)
                width = max(0, L - n - 1)
            n_starts = L - width
            if n_starts <= 0 or n <= 0:
                continue
            n = min(n, n_starts)
            starts = torch.randperm(n_starts, generator=generator)[:n]
            idx = (starts[:, None] + torch.arange(max(width, 1))[None, :]).flatten()
            mask[b, idx[idx < L]] = True
    else:
        raise ValueError(f"unknown mask mode {mode!r}")
    valid = torch.arange(T)[None, :] < lengths[:, None]
    return mask & valid


def mask_video(video: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero masked frames of (B, T, ...) video."""
    keep = (~mask).to(video.dtype).view(*mask.shape, *([1] * (video.ndim - 2)))
    return video * keep


def mask_audio(audio: torch.Tensor, mask: torch.Tensor, hop: int = SAMPLES_PER_FRAME) -> torch.Tensor:
    """Zero (B, N) audio over the masked frames x ``hop`` samples (samples past T*hop are kept as is)."""
    T = mask.shape[1]
    keep = (~mask).to(audio.dtype).repeat_interleave(hop, dim=1)
    n = min(audio.shape[1], T * hop)
    out = audio.clone()
    out[:, :n] = audio[:, :n] * keep[:, :n]
    return out
