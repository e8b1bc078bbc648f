"""The pluggable mouth-locator interface and backend selection (`preprocess.locator`).

A locator turns the grayscale frames of one clip into a per-frame :class:`Track`. The Haar backend
estimates face boxes and mouth centres; a landmark backend also returns 68-point landmarks, in which
case the mouth ROI is cut by similarity alignment (avssl.preprocessing.landmark_align) instead of by
centre + size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from avssl.config.preprocess import PreprocessParams
    from avssl.preprocessing.discover import ClipSource


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


class MouthLocator(Protocol):
    """Anything that maps a clip's grayscale frames (T,H,W) uint8 to a Track."""

    def locate(self, frames_gray: np.ndarray, clip: "ClipSource") -> Track: ...


def make_locator(params: "PreprocessParams") -> MouthLocator:
    """Backend named by `params.locator`."""
    if params.locator == "haar":
        from avssl.preprocessing.haar import HaarLocator

        return HaarLocator(params)
    if params.locator == "landmarks":
        from avssl.preprocessing.landmarks import LandmarkLocator

        return LandmarkLocator(params)
    raise ValueError(f"unknown locator {params.locator!r}")
