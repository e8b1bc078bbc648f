"""Landmark backend: precomputed 68-point iBUG landmarks per clip (`<id>.landmarks.npy`, (T,68,2)).

The geometry (interpolation of missing frames, smoothing, similarity alignment, 96x96 crop) lives in
avssl.preprocessing.landmark_align; it is imported lazily so that a missing module gives one clear error.
Frames whose landmarks are all NaN count as "no face".
"""

from __future__ import annotations

import importlib

import numpy as np

from avssl.preprocessing.errors import ClipRejected, PreprocessError
from avssl.preprocessing.track import Track


def load_align():
    """The landmark_align module, or a PreprocessError that says what is missing."""
    try:  # import_module consults sys.modules first, so a blocked/broken module is reported here
        landmark_align = importlib.import_module("avssl.preprocessing.landmark_align")
    except ImportError as exc:
        raise PreprocessError(
            "preprocess.locator=landmarks needs avssl.preprocessing.landmark_align (crop_mouths), "
            f"which cannot be imported: {exc}. Use preprocess.locator=haar meanwhile."
        ) from exc
    if not hasattr(landmark_align, "crop_mouths"):
        raise PreprocessError("avssl.preprocessing.landmark_align has no crop_mouths(frames_gray, landmarks, crop_size)")
    return landmark_align


class LandmarkLocator:
    def __init__(self, params):
        self.p = params
        self.align = load_align()

    def locate(self, frames_gray: np.ndarray, clip) -> Track:
        if clip is None or clip.landmarks is None:
            raise ClipRejected("missing_landmarks", "no <id>.landmarks.npy next to the clip")
        lm = np.load(clip.landmarks, allow_pickle=False).astype(np.float32)
        T = len(frames_gray)
        if lm.ndim != 3 or lm.shape[1:] != (68, 2):
            raise ClipRejected("bad_landmarks", f"shape {lm.shape}, expected (T,68,2)")
        if len(lm) != T:
            raise ClipRejected("bad_landmarks", f"{len(lm)} landmark frames for {T} video frames")
        found = np.isfinite(lm).all(axis=(1, 2))
        if not found.any():
            nan2, nan4 = np.full((T, 2), np.nan, np.float32), np.full((T, 4), np.nan, np.float32)
            return Track(nan4, nan2, np.full(T, np.nan, np.float32), found, np.ones(T, bool), lm)
        idx = np.flatnonzero(found)
        filled = lm.copy()
        for j in range(68):
            for d in range(2):
                filled[:, j, d] = np.interp(np.arange(T), idx, lm[idx, j, d])
        lo, hi = filled.min(axis=1), filled.max(axis=1)
        side = (hi - lo).max(axis=1)
        centre = (lo + hi) / 2
        box = np.concatenate([centre - side[:, None] / 2, side[:, None], side[:, None]], axis=1)
        mouth = filled[:, 48:68].mean(axis=1)
        return Track(box.astype(np.float32), mouth.astype(np.float32), side.astype(np.float32) * 0.8,
                     found, np.ones(T, bool), lm)

    def crop_mouths(self, frames_gray: np.ndarray, track: Track) -> np.ndarray:
        out = np.asarray(self.align.crop_mouths(frames_gray, track.landmarks, self.p.crop_size))
        if out.shape != (len(frames_gray), self.p.crop_size, self.p.crop_size):
            raise PreprocessError(f"landmark_align.crop_mouths returned {out.shape}")
        return out.astype(np.uint8)
