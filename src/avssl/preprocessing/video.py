"""Decode a video file into frames at the target rate, rejecting unreadable files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avssl.preprocessing.errors import ClipRejected


@dataclass
class Video:
    """Decoded clip: BGR frames (T,H,W,3) uint8 at `fps`, and what resampling was done."""

    frames: np.ndarray
    fps: float
    source_fps: float
    source_frames: int


def read_video(path: Path, fps: int) -> Video:
    """Read every frame; a source rate other than `fps` is resampled by nearest-frame selection."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ClipRejected("unreadable_video", f"{Path(path).name}: cannot be opened")
    try:
        src_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise ClipRejected("unreadable_video", f"{Path(path).name}: no decodable frame")
    if declared > 0 and len(frames) < 0.9 * declared:
        raise ClipRejected("truncated_video", f"{Path(path).name}: decoded {len(frames)} of {declared} frames")
    arr = np.stack(frames)
    if src_fps <= 0 or not np.isfinite(src_fps):
        src_fps = float(fps)
    if abs(src_fps - fps) > 1e-3:
        n_out = max(1, int(round(len(arr) * fps / src_fps)))
        idx = np.minimum((np.arange(n_out) * src_fps / fps + 1e-6).astype(np.int64), len(arr) - 1)
        arr = arr[idx]
    return Video(arr, float(fps), src_fps, len(frames))
