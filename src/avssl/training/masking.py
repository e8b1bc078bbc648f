"""Span masking of frame sequences for RAVEn (one mask per modality, or one shared; see config/raven.py).

Two readings of "mask_prob 0.2, span 3":
- ``fairseq`` (what the official code ran: fairseq 0.10.2's ``compute_mask_indices``, static spans, overlap
  allowed): per sequence of valid length L, draw ``n = max(min_masks, int(p * L / span + U[0,1)))`` distinct
  span starts uniformly from ``[0, L - s)`` where ``s = span``, or ``s = L - n - 1`` when ``L - span <= n``;
  every span keeps its full length and is cut at L; overlapping spans merge, so slightly less than p of the
  frames are masked (~18.7 % for 0.2 / 3).
- ``literal`` (the paper's wording): every valid frame starts a span with probability p, i.e.
  1 - (1 - p)^span of the frames (~48.8 %) are masked.
``subsample=True`` then does what fairseq does last: every row keeps a uniformly drawn subset of its masked
frames of the size of the batch's smallest row, so all rows have the same count and spans of the longer rows
break into scattered frames (an artefact of wav2vec 2.0's batching that the official RAVEn code inherits).
Spans never cover padding. Deterministic given a ``torch.Generator`` (not numpy's stream: the same distribution
as fairseq, not the same draws).
"""

from __future__ import annotations

import torch

from avssl.media import SAMPLES_PER_FRAME


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


def span_mask(lengths: torch.Tensor, T: int, mask_prob: float, span: int, mode: str = "fairseq", *,
              min_masks: int = 1, generator: torch.Generator | None = None, subsample: bool = False) -> torch.Tensor:
    """(B,) valid lengths -> (B, T) bool mask, True = masked frame (on the CPU; move it yourself)."""
    lengths = lengths.detach().to("cpu", torch.long)
    B = lengths.shape[0]
    mask = torch.zeros(B, T, dtype=torch.bool)
    if mask_prob <= 0 or span <= 0:
        return mask
    valid = torch.arange(T)[None, :] < lengths[:, None]
    if mode == "literal":
        starts = torch.rand(B, T, generator=generator) < mask_prob
        for k in range(span):  # dilate each start over the following span-1 frames
            mask[:, k:] |= starts[:, : T - k]
    elif mode == "fairseq":
        for b in range(B):
            L = min(int(lengths[b]), T)
            if L <= 0:
                continue
            n = max(min_masks, int(mask_prob * L / span + float(torch.rand((), generator=generator))))
            if n <= 0:
                continue
            shortest = span if L - span > n else L - n - 1  # fairseq: leave room for n distinct starts
            starts = torch.randperm(L - shortest, generator=generator)[:n]
            idx = (starts[:, None] + torch.arange(span)[None, :]).flatten()
            mask[b, idx[idx < L]] = True
    else:
        raise ValueError(f"unknown mask mode {mode!r}")
    mask &= valid
    if subsample:
        mask = subsample_to_min_count(mask, lengths > 0, generator)
    return mask


def subsample_to_min_count(mask: torch.Tensor, rows: torch.Tensor, generator: torch.Generator | None = None
                           ) -> torch.Tensor:
    """Keep, in every row selected by ``rows`` (B,), a uniform random subset of its masked frames of the size of
    the smallest selected row's count (fairseq's last step); unselected rows (empty sequences) stay as they are."""
    counts = mask.sum(1)
    if not bool(rows.any()):
        return mask
    target = int(counts[rows].min())
    out = mask.clone()
    for b in range(mask.shape[0]):
        if rows[b] and int(counts[b]) > target:
            idx = mask[b].nonzero().flatten()
            keep = idx[torch.randperm(idx.numel(), generator=generator)[:target]]
            out[b] = False
            out[b, keep] = True
    return out


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
