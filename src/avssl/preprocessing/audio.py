"""Read audio as 16 kHz mono float32 and fit it to exactly n_frames * samples_per_frame samples."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from avssl.preprocessing.errors import ClipRejected


@dataclass
class Audio:
    samples: np.ndarray  # float32 mono at the target rate
    source_rate: int
    source_channels: int


def read_audio(path: Path, sample_rate: int, min_rms: float) -> Audio:
    """Decode, downmix and resample; empty, unreadable and silent audio raise ClipRejected."""
    name = Path(path).name
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for broken headers
        raise ClipRejected("unreadable_audio", f"{name}: {exc}") from None
    if data.shape[0] == 0:
        raise ClipRejected("empty_audio", f"{name}: 0 samples")
    channels = data.shape[1]
    mono = data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0]
    if rate != sample_rate:
        mono = resample(mono, rate, sample_rate)
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    if not np.isfinite(rms) or rms < min_rms:
        raise ClipRejected("silent_audio", f"{name}: rms {rms:.2e} < {min_rms:.1e}")
    return Audio(np.ascontiguousarray(mono, dtype=np.float32), int(rate), int(channels))


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Polyphase resampling (scipy): exact rational ratio, deterministic."""
    from scipy.signal import resample_poly

    g = gcd(int(src), int(dst))
    return resample_poly(x.astype(np.float64), dst // g, src // g).astype(np.float32)


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad to exactly n samples."""
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - len(x), dtype=x.dtype)])
