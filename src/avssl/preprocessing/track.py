"""The per-frame face/mouth geometry of one clip, as every mouth locator returns it.

Its own module so that the locator backends (haar.py, landmarks.py) and the backend selection (locator.py)
all read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Track:
    """Per-frame geometry in full-frame pixel coordinates (T = number of frames)."""

    face_box: np.ndarray  # (T,4) float32 x, y, w, h
    mouth_center: np.ndarray  # (T,2) float32 x, y
    roi_size: np.ndarray  # (T,) float32 side of the square mouth region
    detected: np.ndarray  # (T,) bool: the detector (or landmark file) found a face in this frame
    searched: np.ndarray  # (T,) bool: the detector was run on this frame (key frames)
    landmarks: np.ndarray | None = None  # (T,68,2) float32 when the backend provides them

    @property
    def no_face_fraction(self) -> float:
        n = int(self.searched.sum())
        return 1.0 - float(self.detected[self.searched].sum()) / n if n else 1.0
