"""Frame-to-frame face translation by normalised template matching (sub-pixel).

The Haar detector is jittery (a few pixels from frame to frame) and slow; template matching between
neighbouring frames is precise and cheap, but drifts. The Haar locator combines both: this tracker gives
the high-frequency motion, detections on key frames correct the low-frequency drift.
"""

from __future__ import annotations

import cv2
import numpy as np


def _subpixel(res: np.ndarray, ix: int, iy: int) -> tuple[float, float]:
    def peak(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        return 0.0 if d >= 0 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))

    h, w = res.shape
    dx = peak(res[iy, ix - 1], res[iy, ix], res[iy, ix + 1]) if 0 < ix < w - 1 else 0.0
    dy = peak(res[iy - 1, ix], res[iy, ix], res[iy + 1, ix]) if 0 < iy < h - 1 else 0.0
    return dx, dy


def cut_template(frame: np.ndarray, cx: float, cy: float, side: int) -> np.ndarray | None:
    """Square patch of `side` pixels centred at (cx, cy), or None if it leaves the frame."""
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    h, w = frame.shape
    if side < 8 or x0 < 0 or y0 < 0 or x0 + side > w or y0 + side > h:
        return None
    return frame[y0 : y0 + side, x0 : x0 + side]


def match(frame: np.ndarray, template: np.ndarray, cx: float, cy: float, radius: int) -> tuple[float, float, float]:
    """Find `template` near (cx, cy); returns (new cx, new cy, score). Score -1 if the window is too small."""
    side = template.shape[0]
    h, w = frame.shape
    x0 = max(0, int(round(cx - side / 2)) - radius)
    y0 = max(0, int(round(cy - side / 2)) - radius)
    x1 = min(w, int(round(cx - side / 2)) + side + radius)
    y1 = min(h, int(round(cy - side / 2)) + side + radius)
    if x1 - x0 < side or y1 - y0 < side:
        return cx, cy, -1.0
    res = cv2.matchTemplate(frame[y0:y1, x0:x1], template, cv2.TM_CCOEFF_NORMED)
    _, score, _, (ix, iy) = cv2.minMaxLoc(res)
    dx, dy = _subpixel(res, ix, iy)
    return x0 + ix + dx + side / 2, y0 + iy + dy + side / 2, float(score)
