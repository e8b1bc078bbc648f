"""Categorical emotions realised as eSpeak NG prosody profiles, and their affect (arousal, valence) means.

The profiles extend the pseudo-emotions measured in docs (neutral 50/50/165/100, happy 70/90/190/120,
sad 30/15/120/70, anger 55/75/200/190 as pitch/range/rate/volume). Each clip mixes the profile with
neutral by a random strength and adds jitter, so classes overlap (not trivially separable) but stay
learnable from prosody and from the mild facial expression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "neutral", "sad")

# pitch (0-99), pitch range (0-99), rate (words/min), volume (0-200) for a neutral-pitched voice
PROFILES: dict[str, tuple[float, float, float, float]] = {
    "neutral": (50, 50, 165, 100),
    "happy": (70, 90, 190, 120),
    "sad": (30, 15, 120, 70),
    "anger": (55, 75, 200, 190),
    "fear": (72, 35, 210, 110),
    "disgust": (38, 60, 135, 115),
}

# mean (arousal, valence) of each category, in [-1, 1]
AFFECT_MEANS: dict[str, tuple[float, float]] = {
    "anger": (0.7, -0.6),
    "disgust": (0.2, -0.7),
    "fear": (0.6, -0.5),
    "happy": (0.6, 0.7),
    "neutral": (0.0, 0.05),
    "sad": (-0.6, -0.6),
}

# facial expression: (smile: + corners up / - down, jaw: extra opening, spread: + wide / - pursed,
# upper-lip raise, brow: + raised / - lowered), all roughly in [-1, 1]
EXPRESSIONS: dict[str, tuple[float, float, float, float, float]] = {
    "neutral": (0.0, 0.0, 0.0, 0.0, 0.0),
    "happy": (1.0, 0.15, 0.6, 0.0, 0.3),
    "sad": (-1.0, -0.1, -0.2, 0.0, 0.5),
    "anger": (-0.5, -0.2, 0.2, 0.3, -1.0),
    "fear": (-0.3, 0.35, 0.8, 0.2, 1.0),
    "disgust": (-0.6, 0.0, -0.1, 1.0, -0.5),
}


@dataclass(frozen=True)
class Prosody:
    """Base eSpeak NG parameters of one clip."""

    pitch: int
    pitch_range: int
    rate: int
    volume: int


def clip_prosody(
    emotion: str,
    strength: float,
    speaker_pitch: float,
    speaker_rate: float,
    speaker_range: float,
    jitter: float,
    rng: np.random.Generator,
) -> Prosody:
    """Profile of ``emotion`` mixed with neutral by ``strength``, shifted per speaker and jittered."""
    neutral = np.array(PROFILES["neutral"], float)
    target = np.array(PROFILES[emotion], float)
    p, r, rate, vol = neutral + strength * (target - neutral)
    p += speaker_pitch + jitter * rng.normal(0, 5)
    r += speaker_range + jitter * rng.normal(0, 8)
    rate *= speaker_rate * (1 + jitter * rng.normal(0, 0.07))
    vol *= 1 + jitter * rng.normal(0, 0.08)
    return Prosody(
        pitch=int(np.clip(round(p), 0, 99)),
        pitch_range=int(np.clip(round(r), 0, 99)),
        rate=int(np.clip(round(rate), 90, 320)),
        volume=int(np.clip(round(vol), 20, 200)),
    )


def affect_modulation(d_arousal: float, d_valence: float) -> dict[str, int]:
    """Relative SSML prosody (percent) for a deviation of the affect trace from the category mean:
    arousal drives rate and volume, valence drives pitch and pitch range."""
    return {
        "rate": int(round(100 * (1 + 0.30 * d_arousal))),
        "volume": int(round(100 * (1 + 0.45 * d_arousal))),
        "pitch": int(round(40 * d_valence)),
        "range": int(round(100 * (1 + 0.6 * d_valence))),
    }
