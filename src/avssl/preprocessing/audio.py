"""Read audio as 16 kHz mono float32 and fit it to exactly n_frames * samples_per_frame samples.

Sound files (.wav, .flac, .ogg, ...) are read with soundfile; anything else (the audio track of an .mp4,
.flv, .avi, .m4a) is decoded with PyAV (:mod:`avssl.preprocessing.containers`). Either way the samples are
downmixed and resampled here by the same code, so a clip's audio does not depend on where it was stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from avssl.preprocessing.errors import ClipRejected

# read by libsndfile; other suffixes are containers decoded by PyAV
SOUND_FILE_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au", ".snd"})


@dataclass
class Audio:
    samples: np.ndarray  # float32 mono at the target rate
    source_rate: int
    source_channels: int
    decoder: str = "soundfile"  # "soundfile" | "pyav"


def _read_sound_file(path: Path, span: tuple[float | None, float | None] | None) -> tuple[np.ndarray, int]:
    name = Path(path).name
    try:
        if span is None:
            return sf.read(str(path), dtype="float32", always_2d=True)
        with sf.SoundFile(str(path)) as fh:
            rate = fh.samplerate
            a = max(0, int(round((span[0] or 0.0) * rate)))
            b = fh.frames if span[1] is None else min(fh.frames, int(round(span[1] * rate)))
            fh.seek(min(a, fh.frames))
            return fh.read(frames=max(0, b - a), dtype="float32", always_2d=True), rate
    except Exception as exc:  # soundfile raises several types for broken headers
        raise ClipRejected("unreadable_audio", f"{name}: {exc}") from None


def read_audio(path: Path, sample_rate: int, min_rms: float,
               span: tuple[float | None, float | None] | None = None) -> Audio:
    """Decode (only `span`, seconds, if given), downmix and resample; empty, unreadable and silent audio
    raise ClipRejected."""
    name = Path(path).name
    if Path(path).suffix.lower() in SOUND_FILE_SUFFIXES:
        data, rate = _read_sound_file(path, span)
        decoder = "soundfile"
    else:
        from avssl.preprocessing.containers import decode_audio

        data, rate = decode_audio(path, span)
        decoder = "pyav"
    if data.shape[0] == 0:
        where = "" if span is None else f" in segment {span[0]}-{span[1]} s"
        raise ClipRejected("empty_audio", f"{name}: 0 samples{where}")
    channels = data.shape[1]
    mono = data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0]
    if rate != sample_rate:
        mono = resample(mono, rate, sample_rate)
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    if not np.isfinite(rms) or rms < min_rms:
        raise ClipRejected("silent_audio", f"{name}: rms {rms:.2e} < {min_rms:.1e}")
    return Audio(np.ascontiguousarray(mono, dtype=np.float32), int(rate), int(channels), decoder)


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
