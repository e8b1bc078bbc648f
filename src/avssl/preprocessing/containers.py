"""Decode audio and video from media containers (.mp4, .flv, .avi, .m4a, ...) with PyAV.

Why PyAV: the real corpora keep their audio inside the video container (LRS3, LRW, VoxCeleb2 and RAVDESS
mp4s carry AAC tracks), and torchaudio 2.11 only decodes through torchcodec + a system FFmpeg, which the
machines running this pipeline do not have. The PyAV wheels bundle their own FFmpeg libraries (reported as
LGPL-3.0-or-later by FFmpeg itself), so `pip install` is all it takes. PyAV is imported lazily, only when a
container actually has to be decoded: the synthetic corpus (mp4 read by OpenCV + separate wav read by
soundfile) never loads it.

Both readers take an optional ``span = (start, end)`` in seconds (either may be None = open end) for
clips that are a segment of a longer file (LRS3 pretrain segments, IEMOCAP turns inside a dialog video).
They seek to the key frame before ``start`` and decode forward, so the result is exact and the same on
every run. Decoding uses one thread per process (the stage parallelises across processes).

Problems of one file raise :class:`ClipRejected` with a stable reason (``no_audio_stream``,
``unreadable_audio``, ``empty_audio``, ``unreadable_video``); a missing PyAV installation is a
:class:`PreprocessError` (the stage cannot work, rejecting every clip would hide that).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avssl.preprocessing.errors import ClipRejected, PreprocessError

Span = tuple[float | None, float | None]
INSTALL_HINT = "pip install av (pinned in requirements.lock; its wheels bundle FFmpeg)"


def import_av(purpose: str):
    """The `av` module, or a PreprocessError saying what needed it and how to install it."""
    try:
        import av
    except ImportError as exc:
        raise PreprocessError(f"{purpose} needs PyAV, which cannot be imported ({exc}): {INSTALL_HINT}") from exc
    return av


def pyav_available() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _why(exc: Exception) -> str:
    """An FFmpeg error without the absolute path FFmpeg appends (rejects.csv must not depend on the machine)."""
    return f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"


def _open(av, path: Path, reason: str):
    try:
        return av.open(str(path))
    except Exception as exc:  # FFmpegError subclasses, OSError, ...
        raise ClipRejected(reason, f"{Path(path).name}: cannot be opened ({_why(exc)})") from None


def _seek(container, stream, start: float | None) -> None:
    """Seek to the key frame at or before `start` (no-op at the beginning of the file)."""
    if start is not None and start > 0:
        container.seek(int(start / float(stream.time_base)), stream=stream, backward=True, any_frame=False)


# ---------------------------------------------------------------------------------------------- audio

_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


def frame_samples(frame) -> np.ndarray:
    """One decoded AudioFrame -> float32 (n_samples, n_channels) in [-1, 1], whatever FFmpeg's sample format."""
    arr = frame.to_ndarray()
    channels = frame.layout.nb_channels
    arr = arr.T if frame.format.is_planar else arr.reshape(-1, channels)
    if arr.dtype == np.uint8:
        return (arr.astype(np.float32) - 128.0) / 128.0
    if arr.dtype in _INT_SCALE:
        return (arr.astype(np.float64) / _INT_SCALE[arr.dtype]).astype(np.float32)
    return arr.astype(np.float32, copy=False)


def decode_audio(path: Path, span: Span | None = None) -> tuple[np.ndarray, int]:
    """First audio stream of a container -> (float32 (n, channels), sample rate), optionally cut to `span`.

    Without a span the whole stream is returned, trimmed to the stream's declared duration when the
    container knows it (AAC encoders pad the last frame; mp4 records the true length).
    """
    av = import_av(f"reading the audio track of {Path(path).name}")
    name = Path(path).name
    with _open(av, path, "unreadable_audio") as container:
        if not container.streams.audio:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
            raise ClipRejected("no_audio_stream", f"{name}: the container has no audio stream (streams: {kinds})")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        if rate <= 0:
            raise ClipRejected("unreadable_audio", f"{name}: audio stream without a sample rate")
        start, end = span if span is not None else (None, None)
        chunks: list[np.ndarray] = []
        first_time, n = None, 0
        try:
            _seek(container, stream, start)
            for frame in container.decode(stream):
                if first_time is None:
                    first_time = float(frame.time) if frame.pts is not None and span is not None else 0.0
                x = frame_samples(frame)
                chunks.append(x)
                n += len(x)
                if end is not None and first_time + n / rate >= end:
                    break
        except (av.FFmpegError, ValueError) as exc:
            raise ClipRejected(
                "unreadable_audio", f"{name}: audio decoding failed after {n} samples ({_why(exc)})"
            ) from None
    if not chunks:
        raise ClipRejected("empty_audio", f"{name}: the audio stream decodes to 0 samples")
    data = np.concatenate(chunks)
    if span is None:
        if stream.duration is not None and stream.duration > 0:
            declared = int(round(float(stream.duration * stream.time_base) * rate))
            if 0 < declared < len(data):
                data = data[:declared]
        return data, rate
    a = max(0, int(round(((start or 0.0) - first_time) * rate)))
    b = len(data) if end is None else max(a, int(round((end - first_time) * rate)))
    return data[a:b], rate


# ---------------------------------------------------------------------------------------------- video


def decode_video(path: Path, span: Span | None = None) -> tuple[np.ndarray, float, int]:
    """First video stream -> (BGR frames (T,H,W,3) uint8, source fps, frames expected).

    With a span, frame i (at time t) is kept when round(start*fps) <= round(t*fps) < round(end*fps), so a
    segment gets exactly the frames that a whole-file read would give at those indices. "Frames expected"
    is what the container (or the span) announces, 0 when unknown; the caller flags truncated files.
    """
    av = import_av(f"reading the video of {Path(path).name}")
    name = Path(path).name
    with _open(av, path, "unreadable_video") as container:
        if not container.streams.video:
            raise ClipRejected("unreadable_video", f"{name}: the container has no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        start, end = span if span is not None else (None, None)
        first = int(round((start or 0.0) * fps)) if fps > 0 else 0
        last = int(round(end * fps)) if (end is not None and fps > 0) else None
        frames: list[np.ndarray] = []
        try:
            _seek(container, stream, start)
            for frame in container.decode(stream):
                if span is not None:
                    t = float(frame.time) if frame.pts is not None else len(frames) / max(fps, 1e-9)
                    if fps > 0:
                        i = int(round(t * fps))
                        if i < first:
                            continue
                        if last is not None and i >= last:
                            break
                    elif (start is not None and t < start) or (end is not None and t >= end):
                        continue
                frames.append(frame.to_ndarray(format="bgr24"))
        except (av.FFmpegError, ValueError) as exc:
            if not frames:
                raise ClipRejected("unreadable_video", f"{name}: decoding failed ({_why(exc)})") from None
            # frames decoded before the error are kept; the truncation check below decides
        if span is not None:
            expected = (last - first) if last is not None else 0
        else:
            expected = int(stream.frames or 0)
            if not expected and stream.duration and fps > 0:
                expected = int(round(float(stream.duration * stream.time_base) * fps))
    if not frames:
        what = f"segment {start}-{end} s" if span is not None else "file"
        raise ClipRejected("unreadable_video", f"{name}: no decodable frame in the {what}")
    return np.stack(frames), fps, expected
