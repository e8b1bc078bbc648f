"""Decode a video file into frames at the target rate, rejecting unreadable files.

Whole files are read with OpenCV (what the synthetic corpus has always used, so its outputs do not
change); when OpenCV cannot open a file or decodes no frame from it (a codec or container its build
lacks), PyAV decodes it instead. Segments of a longer file (``span``: LRS3 pretrain segments, IEMOCAP
turns in a dialog video) are read with PyAV, which seeks exactly instead of decoding from the start.
"""

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
    decoder: str = "opencv"  # "opencv" | "pyav"


def _read_opencv(path: Path) -> tuple[list[np.ndarray], float, int, str | None]:
    """(frames, fps, declared frame count, why nothing was read or None)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        return [], 0.0, 0, "cannot be opened"
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
    return frames, src_fps, declared, None if frames else "no decodable frame"


def read_video(path: Path, fps: int, span: tuple[float | None, float | None] | None = None) -> Video:
    """Read every frame (of `span`, seconds, if given); a source rate other than `fps` is resampled by
    nearest-frame selection."""
    name = Path(path).name
    decoder = "opencv"
    if span is None:
        frames, src_fps, declared, problem = _read_opencv(path)
        if problem is not None:
            from avssl.preprocessing.containers import decode_video, pyav_available

            if not pyav_available():
                raise ClipRejected("unreadable_video", f"{name}: {problem}")
            try:
                arr, src_fps, declared = decode_video(path)
            except ClipRejected:  # both decoders fail: the file is broken; report it as before PyAV existed
                raise ClipRejected("unreadable_video", f"{name}: {problem}") from None
            frames, decoder = arr, "pyav"
    else:
        from avssl.preprocessing.containers import decode_video

        frames, src_fps, declared = decode_video(path, span)
        decoder = "pyav"
    if declared > 0 and len(frames) < 0.9 * declared:
        raise ClipRejected("truncated_video", f"{name}: decoded {len(frames)} of {declared} frames")
    arr = frames if isinstance(frames, np.ndarray) else np.stack(frames)
    if src_fps <= 0 or not np.isfinite(src_fps):
        src_fps = float(fps)
    if abs(src_fps - fps) > 1e-3:
        n_out = max(1, int(round(len(arr) * fps / src_fps)))
        idx = np.minimum((np.arange(n_out) * src_fps / fps + 1e-6).astype(np.int64), len(arr) - 1)
        arr = arr[idx]
    return Video(arr, float(fps), src_fps, len(frames), decoder)
