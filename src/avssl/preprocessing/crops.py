"""Square crops around a per-frame centre with a per-frame size, resampled to a fixed output side.

warpAffine does crop + scale in one pass with sub-pixel centres and replicated borders, so a face
near the frame edge still gives a full-size crop.
"""

from __future__ import annotations

import cv2
import numpy as np


def square_crops(frames: np.ndarray, centres: np.ndarray, sides: np.ndarray, out: int) -> np.ndarray:
    """frames (T,H,W[,C]) uint8, centres (T,2) x,y, sides (T,) -> (T,out,out[,C]) uint8."""
    T = len(frames)
    result = np.empty((T, out, out) + frames.shape[3:], dtype=np.uint8)
    for t in range(T):
        scale = out / float(sides[t])
        cx, cy = float(centres[t, 0]), float(centres[t, 1])
        # maps pixel centres: dst = scale * (src - centre) + out/2 (pixel-centre convention)
        m = np.array(
            [[scale, 0.0, out / 2 - 0.5 - scale * (cx - 0.5)], [0.0, scale, out / 2 - 0.5 - scale * (cy - 0.5)]]
        )
        result[t] = cv2.warpAffine(frames[t], m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return result
