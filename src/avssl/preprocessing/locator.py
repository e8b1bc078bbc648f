"""The pluggable mouth-locator interface and backend selection (`preprocess.locator`).

A locator turns the grayscale frames of one clip into a per-frame
:class:`~avssl.preprocessing.track.Track`. The Haar backend
estimates face boxes and mouth centres; a landmark backend also returns 68-point landmarks, in which
case the mouth ROI is cut by similarity alignment (avssl.preprocessing.landmark_align) instead of by
centre + size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from avssl.preprocessing.track import Track

if TYPE_CHECKING:
    from avssl.config.preprocess import PreprocessParams
    from avssl.preprocessing.discover import ClipSource


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
