"""Audio helpers: 22,050 -> 16,000 Hz polyphase resampling, silence trimming, placement in the clip.

`scipy.signal.resample_poly` is exact integer arithmetic on the rate ratio (320/441) and deterministic.
"""

from __future__ import annotations

import numpy as np

from avssl.media import SAMPLE_RATE as SR
from avssl.media import SAMPLES_PER_FRAME

_UP, _DOWN = 320, 441  # 16000 / 22050


def resample_22k_to_16k(x: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] at 16 kHz from int16 at 22,050 Hz."""
    from scipy.signal import resample_poly

    return resample_poly(x.astype(np.float32) / 32768.0, _UP, _DOWN).astype(np.float32)


def speech_bounds(x: np.ndarray, threshold: float = 0.01, pad: int = 160) -> tuple[int, int]:
    """First and last sample above ``threshold`` (with ``pad`` samples of margin)."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    if len(idx) == 0:
        return 0, len(x)
    return max(0, int(idx[0]) - pad), min(len(x), int(idx[-1]) + pad)


def place(speech: np.ndarray, n_samples: int, start: int, noise_db: float, rng: np.random.Generator) -> np.ndarray:
    """``speech`` written at ``start`` into ``n_samples`` of low Gaussian noise (no digital silence)."""
    out = rng.normal(0.0, 10 ** (noise_db / 20), n_samples).astype(np.float32)
    seg = speech[: max(0, n_samples - start)]
    out[start : start + len(seg)] += seg
    return np.clip(out, -1.0, 32767 / 32768)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.round(x * 32768.0).clip(-32768, 32767).astype(np.int16)
