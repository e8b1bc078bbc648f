"""Continuous affect: smooth arousal/valence traces at 25 Hz that drive the prosody of each word.

A trace is generated per word first (a smooth random walk around the emotion's mean), realised by
per-word SSML prosody, and then placed on the time axis at the words' actual centres (from eSpeak NG's
word events) and interpolated/smoothed to frames. The label therefore follows what is really audible.
"""

from __future__ import annotations

import numpy as np

from avssl.media import FPS


def smooth_walk(n: int, std: float, corr: float, rng: np.random.Generator) -> np.ndarray:
    """AR(1) sequence of length ``n`` with stationary std ``std`` and lag-1 correlation ``corr``."""
    x = np.empty(n)
    x[0] = rng.normal(0, std)
    innovation = std * np.sqrt(1 - corr**2)
    for i in range(1, n):
        x[i] = corr * x[i - 1] + rng.normal(0, innovation)
    return x


def word_affect(
    n_words: int, mean: tuple[float, float], std: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-word (arousal, valence) values around the category mean, smooth from word to word."""
    a = np.clip(mean[0] + smooth_walk(n_words, std, 0.7, rng), -1, 1)
    v = np.clip(mean[1] + smooth_walk(n_words, std, 0.7, rng), -1, 1)
    return a, v


def frame_trace(values: np.ndarray, centres_s: np.ndarray, n_frames: int, fps: float = float(FPS)) -> np.ndarray:
    """Interpolate per-word values placed at word centres (seconds) to ``n_frames`` frames, then smooth
    (Gaussian, sigma 3 frames) so the trace is continuous; constant before the first / after the last word."""
    t = (np.arange(n_frames) + 0.5) / fps
    if len(values) == 1:
        trace = np.full(n_frames, float(values[0]))
    else:
        trace = np.interp(t, centres_s, values)
    k = np.exp(-0.5 * (np.arange(-9, 10) / 3.0) ** 2)
    k /= k.sum()
    padded = np.pad(trace, 9, mode="edge")
    return np.clip(np.convolve(padded, k, mode="valid"), -1, 1).astype(np.float32)
