"""Additive noise for the robustness study: babble and white noise at fixed SNRs.

Why these choices:
- Babble is the sum of ``k`` held-out utterances of *other* speakers (never the target speaker, otherwise the
  "noise" would carry the target's own voice and lexical content), each normalised to the same active power
  so no single talker dominates.
- SNR is defined on the *active* (non-silent) speech power. Clips contain leading/trailing silence whose length
  varies; averaging over it would make the effective SNR depend on the amount of silence.
- Everything is deterministic given (seed, clip id, noise type, SNR): evaluation under noise must be exactly
  repeatable across runs and machines, so the random stream is derived with SHA-256 (Python's ``hash`` is
  salted per process).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

SNR_LEVELS: tuple = ("clean", 20, 10, 5, 0, -5)
NOISE_TYPES: tuple = ("babble", "white")


def derive_rng(*keys) -> np.random.Generator:
    """A numpy Generator seeded from any tuple of printable keys (stable across processes)."""
    h = hashlib.sha256("\x1f".join(str(k) for k in keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def active_mask(x: np.ndarray, frame: int = 400, threshold_db: float = 40.0) -> np.ndarray:
    """Per-sample bool mask of the frames whose energy is within ``threshold_db`` of the loudest frame.

    A simple energy VAD (25 ms frames at 16 kHz). Good enough for clean read speech, which is what the
    SNR reference is always computed on.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=bool)
    n_frames = -(-n // frame)
    padded = np.zeros(n_frames * frame)
    padded[:n] = x
    energy = (padded.reshape(n_frames, frame) ** 2).mean(axis=1)
    peak = energy.max()
    if peak <= 0:
        return np.zeros(n, dtype=bool)
    keep = energy >= peak * 10 ** (-threshold_db / 10)
    return np.repeat(keep, frame)[:n]


def active_power(x: np.ndarray, frame: int = 400, threshold_db: float = 40.0) -> float:
    """Mean power over the non-silent frames of ``x`` (see :func:`active_mask`)."""
    x = np.asarray(x, dtype=np.float64)
    m = active_mask(x, frame, threshold_db)
    if not m.any():
        return 0.0
    return float((x[m] ** 2).mean())


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Scale ``noise`` (same length) so that active-speech-power / noise-power = ``snr_db`` and add it."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != clean.shape:
        raise ValueError(f"noise shape {noise.shape} != clean shape {clean.shape}")
    ps = active_power(clean)
    pn = float((noise**2).mean())
    if ps == 0 or pn == 0:
        return clean.astype(np.float32)
    gain = np.sqrt(ps / (pn * 10 ** (snr_db / 10)))
    return (clean + gain * noise).astype(np.float32)


def _fit_length(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random crop (or tile, for short utterances) to exactly ``n`` samples."""
    if len(x) >= n:
        start = int(rng.integers(0, len(x) - n + 1))
        return x[start : start + n]
    reps = -(-n // len(x)) + 1
    tiled = np.tile(x, reps)
    start = int(rng.integers(0, len(x)))
    return tiled[start : start + n]


@dataclass
class BabblePool:
    """Held-out utterances (speaker, waveform) that babble is built from.

    Use utterances of a split the model never trains on (e.g. a dedicated noise split or the validation
    speakers when evaluating on test), so the babble voices are unseen.
    """

    speakers: list
    waveforms: list

    @classmethod
    def from_processed(cls, ds, clip_ids: Iterable[str], max_utterances: int | None = 200) -> "BabblePool":
        """Build from a ``ProcessedDataset``: ``ds[cid]["audio"]`` and the ``speaker`` column of ``ds.index``."""
        speaker_of = {}
        for row in _rows(ds.index):
            speaker_of[str(row["clip_id"])] = str(row["speaker"])
        spk, wav = [], []
        for cid in sorted(clip_ids):
            if max_utterances is not None and len(wav) >= max_utterances:
                break
            spk.append(speaker_of[str(cid)])
            wav.append(np.asarray(ds[cid]["audio"], dtype=np.float32))
        return cls(spk, wav)

    def babble(self, n_samples: int, exclude_speaker, rng: np.random.Generator, k: int = 6) -> tuple[np.ndarray, list]:
        """Sum of ``k`` utterances from speakers other than ``exclude_speaker``; returns (noise, used indices)."""
        candidates = [i for i, s in enumerate(self.speakers)
                      if str(s) != str(exclude_speaker) and len(self.waveforms[i])]
        if not candidates:
            raise ValueError(f"no babble utterances from speakers other than {exclude_speaker!r}")
        chosen = rng.choice(candidates, size=k, replace=len(candidates) < k)
        out = np.zeros(n_samples, dtype=np.float64)
        for i in chosen:
            seg = _fit_length(np.asarray(self.waveforms[i], dtype=np.float64), n_samples, rng)
            p = active_power(seg) or float((seg**2).mean())
            if p > 0:
                out += seg / np.sqrt(p)
        return out, [int(i) for i in chosen]


def _rows(index) -> Iterable[dict]:
    if hasattr(index, "to_dict"):  # pandas DataFrame
        return index.to_dict("records")
    return index


def white_noise(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n_samples)


def add_noise(
    clean: np.ndarray,
    noise_type: str,
    snr,
    *,
    clip_id: str,
    seed: int,
    speaker=None,
    pool: BabblePool | None = None,
    babble_k: int = 6,
) -> np.ndarray:
    """The evaluation corruption: ``clean`` + ``noise_type`` noise at ``snr`` dB ('clean' = unchanged).

    Deterministic in (seed, clip_id, noise_type, snr).
    """
    clean = np.asarray(clean, dtype=np.float32)
    if snr == "clean" or snr is None:
        return clean.copy()
    rng = derive_rng(seed, clip_id, noise_type, snr)
    if noise_type == "white":
        noise = white_noise(len(clean), rng)
    elif noise_type == "babble":
        if pool is None:
            raise ValueError("babble noise needs a BabblePool")
        noise, _ = pool.babble(len(clean), speaker, rng, k=babble_k)
    else:
        raise ValueError(f"unknown noise type {noise_type!r}; known {NOISE_TYPES}")
    return mix_at_snr(clean, noise, float(snr))


class NoiseAugment:
    """Training-time augmentation: with probability ``p`` add white/babble noise at an SNR drawn uniformly
    from ``snrs`` to each waveform of a batch (only to its valid samples).

    Babble speakers are excluded per sample when ``speakers`` is given. Uses its own numpy Generator so
    augmentation is reproducible given ``seed``.
    """

    def __init__(self, pool: BabblePool | None, snrs: Sequence[float] = (20, 10, 5, 0, -5), p: float = 0.5,
                 noise_types: Sequence[str] = NOISE_TYPES, seed: int = 0, babble_k: int = 6):
        self.pool, self.snrs, self.p, self.babble_k = pool, list(snrs), p, babble_k
        self.noise_types = [t for t in noise_types if t != "babble" or pool is not None]
        self.rng = np.random.default_rng(seed)

    def __call__(self, audio, n_valid=None, speakers=None):
        """``audio`` torch (B, N); ``n_valid`` (B,) valid samples per row; returns a new tensor."""
        import torch

        out = audio.clone()
        for b in range(audio.shape[0]):
            if self.rng.random() >= self.p or not self.noise_types:
                continue
            n = int(n_valid[b]) if n_valid is not None else audio.shape[1]
            clean = audio[b, :n].detach().cpu().numpy().astype(np.float64)
            kind = self.noise_types[int(self.rng.integers(len(self.noise_types)))]
            snr = float(self.snrs[int(self.rng.integers(len(self.snrs)))])
            if kind == "white":
                noise = white_noise(n, self.rng)
            else:
                spk = speakers[b] if speakers is not None else None
                noise, _ = self.pool.babble(n, spk, self.rng, k=self.babble_k)
            out[b, :n] = torch.from_numpy(mix_at_snr(clean, noise, snr)).to(audio)
        return out
