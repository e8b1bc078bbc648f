"""Small 1-D signal helpers for tracks (pure numpy)."""

from __future__ import annotations

import numpy as np


def moving_average(x: np.ndarray, half: int) -> np.ndarray:
    """Centred moving average along axis 0 with edge replication (no lag, no shrinking at the ends)."""
    x = np.asarray(x, dtype=np.float64)
    if half <= 0 or len(x) <= 1:
        return x.copy()
    pad = [(half, half)] + [(0, 0)] * (x.ndim - 1)
    xp = np.pad(x, pad, mode="edge")
    c = np.cumsum(xp, axis=0)
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), c], axis=0)
    return (c[2 * half + 1 :] - c[: -2 * half - 1]) / (2 * half + 1)


def moving_median(x: np.ndarray, half: int) -> np.ndarray:
    """Centred running median along axis 0 (robust to detector outliers)."""
    x = np.asarray(x, dtype=np.float64)
    if half <= 0 or len(x) <= 1:
        return x.copy()
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = np.median(x[max(0, i - half) : i + half + 1], axis=0)
    return out


def interp_rows(t_known: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of (K,D) values known at frame indices t_known onto frames 0..n-1 (held at ends)."""
    t = np.arange(n, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(len(t_known), -1)
    cols = [np.interp(t, t_known, values[:, d]) for d in range(values.shape[1])]
    return np.stack(cols, axis=1)
