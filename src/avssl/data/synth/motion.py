"""Slow head motion and the per-frame affine from the identity image to the 224x224 frame.

Motion is a sum of a few low-frequency sinusoids (0.1-0.6 Hz) per degree of freedom plus a per-clip
static offset: smooth like a seated talker, but large enough that a fixed crop would lose the mouth.
"""

from __future__ import annotations

import numpy as np

from avssl.media import FPS

FRAME = 224


def head_motion(n_frames: int, amount: float, rng: np.random.Generator, fps: float = float(FPS)) -> np.ndarray:
    """float32[T,4]: (tx px, ty px, relative scale, rotation deg) per frame."""
    t = np.arange(n_frames) / fps
    amps = np.array([9.0, 7.0, 0.05, 4.0]) * amount
    static = np.array([rng.uniform(-12, 12), rng.uniform(-9, 9), rng.uniform(-0.06, 0.06), rng.uniform(-3, 3)])
    out = np.zeros((n_frames, 4))
    for d in range(4):
        for _ in range(2):
            f = rng.uniform(0.1, 0.6)
            out[:, d] += amps[d] / 2 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        out[:, d] += static[d] * amount
    return out.astype(np.float32)


def frame_affine(face_centre, base_scale: float, mirror: bool, tilt: float, pose) -> np.ndarray:
    """2x3 matrix: identity-image coordinates -> frame coordinates for one pose (tx, ty, ds, rot)."""
    tx, ty, ds, rot = (float(v) for v in pose)
    s = base_scale * (1 + ds)
    a = np.deg2rad(tilt + rot)
    c, si = np.cos(a) * s, np.sin(a) * s
    m = -1.0 if mirror else 1.0
    lin = np.array([[c * m, -si], [si * m, c]])
    centre_out = np.array([FRAME / 2 + tx, FRAME * 0.46 + ty])
    trans = centre_out - lin @ np.asarray(face_centre, float)
    return np.hstack([lin, trans[:, None]])


def transform(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    return points @ affine[:, :2].T + affine[:, 2]


def box_of(points: np.ndarray) -> np.ndarray:
    """Axis-aligned (x, y, w, h) box of points."""
    lo, hi = points.min(0), points.max(0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
