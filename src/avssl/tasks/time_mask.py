"""Time masking for fine-tuning (RAVEn: video one mask < 0.4 s per second, audio one mask < 0.6 s per 2 s).

Why: a SpecAugment-style regulariser that forces the model to use context; cheap, label-preserving. Each
sample gets ``n = max(1, round(valid_len / stride))`` masks, each of length uniform in [0, max_len) at a
uniform start inside the valid region, filled with 0 (for normalised video 0 is the dataset-mean grey level,
for raw audio it is silence). Video is masked per frame (dim 1 of (B, T, H, W)), audio per sample (B, N).
"""

from __future__ import annotations

import torch

from avssl.media import FPS, SAMPLE_RATE

VIDEO = {"max_len": round(0.4 * FPS), "stride": FPS}  # frames: < 0.4 s per 1 s
AUDIO = {"max_len": round(0.6 * SAMPLE_RATE), "stride": 2 * SAMPLE_RATE}  # samples: < 0.6 s per 2 s


def time_mask(x: torch.Tensor, valid: torch.Tensor | None, max_len: int, stride: int,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Return a masked copy of ``x`` (time on dim 1). ``valid`` (B,) = valid length per row in x's time units."""
    out = x.clone()
    B, L = x.shape[0], x.shape[1]
    for b in range(B):
        n_valid = int(valid[b]) if valid is not None else L
        if n_valid <= 1:
            continue
        n_masks = max(1, int(round(n_valid / stride)))
        for _ in range(n_masks):
            length = int(torch.randint(0, max_len, (1,), generator=generator))
            length = min(length, n_valid)
            if length == 0:
                continue
            start = int(torch.randint(0, n_valid - length + 1, (1,), generator=generator))
            out[b, start : start + length] = 0
    return out
