"""The 68-point mean face that mouth cropping aligns every frame to.

``mean_face_68.csv`` (next to this module) holds 68 iBUG-ordered (x, y) points in a 256 x 256 reference
frame; it is derived by :mod:`avssl.preprocessing.derive_mean_face`, whose docstring explains every
proportion.
Pass ``path`` to use another template (e.g. auto-AVSR's mean face exported as .npy/.csv) without code
changes; any 68 x 2 array in a 256 x 256 frame works.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEFAULT_PATH = Path(__file__).with_name("mean_face_68.csv")


def load_mean_face(path: str | Path | None = None) -> np.ndarray:
    """float32 (68, 2) array from a ``.csv`` (header ``x,y``) or ``.npy`` file; the project's file by default."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if path.suffix == ".npy":
        pts = np.load(path, allow_pickle=False)
    else:
        pts = np.loadtxt(path, delimiter=",", skiprows=1)
    pts = np.asarray(pts, dtype=np.float32)
    if pts.shape != (68, 2) or not np.isfinite(pts).all():
        raise ValueError(f"{path}: a mean face must be 68 finite (x, y) points, got shape {pts.shape}")
    return pts
