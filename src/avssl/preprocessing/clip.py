"""Process one clip: decode, locate the mouth, cut ROIs and face crops, fit the audio.

Raises ClipRejected for anything that makes the clip unusable; the caller records it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from avssl.preprocessing.audio import fit_length, read_audio
from avssl.preprocessing.crops import square_crops
from avssl.preprocessing.discover import ClipSource
from avssl.preprocessing.errors import ClipRejected
from avssl.preprocessing.video import read_video

# columns written by this stage; metadata columns with the same name are kept as meta_<name>
OWN_COLUMNS = (
    "shard", "frame_offset", "audio_offset", "n_frames", "n_samples", "drift_samples", "drift_s",
    "source_fps", "source_frames", "source_rate", "source_channels", "no_face_fraction", "notes",
)


@dataclass
class ClipResult:
    row: dict
    video: np.ndarray  # (T,crop,crop) uint8
    face: np.ndarray  # (T,S,S) or (T,S,S,3) uint8
    audio: np.ndarray  # (T*spf,) float32
    track: dict  # per-frame arrays actually used for cropping (mouth_center, face_box, ...)
    annotations: dict  # arrays copied from <id>.npz


def metadata_columns(meta: dict, default_split: str) -> dict:
    row = {"clip_id": meta.get("clip_id"), "split": meta.get("split") or default_split,
           "speaker": meta.get("speaker") or "unknown"}
    for key, value in meta.items():
        if key in row:
            continue
        row[f"meta_{key}" if key in OWN_COLUMNS else key] = value
    return row


def process_clip(src: ClipSource, params, locator) -> ClipResult:
    p = params
    spf = p.sample_rate // p.fps
    video = read_video(src.video, p.fps, span=src.video_span)
    T = len(video.frames)
    if T < p.min_frames:
        raise ClipRejected("too_short", f"{T} frames < min_frames {p.min_frames}")
    audio = read_audio(src.audio, p.sample_rate, p.min_audio_rms, span=src.audio_span)
    n_samples = T * spf
    drift = len(audio.samples) - n_samples
    if abs(drift) / p.sample_rate > p.max_av_drift_s:
        raise ClipRejected(
            "length_mismatch",
            f"audio {len(audio.samples) / p.sample_rate:.3f} s vs video {T / p.fps:.3f} s "
            f"(tolerance {p.max_av_drift_s} s)",
        )
    annotations = {}
    if src.annotations is not None:
        try:
            with np.load(src.annotations, allow_pickle=False) as z:
                annotations = {k: np.asarray(z[k]) for k in z.files}
        except Exception as exc:
            raise ClipRejected("bad_annotations", f"{src.annotations.name}: {exc}") from None
    for key, value in src.constant_annotations.items():  # clip-level labels as per-frame arrays
        annotations.setdefault(key, np.full(T, value, dtype=np.float32))

    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in video.frames])
    track = locator.locate(gray, src)
    nf = track.no_face_fraction
    if nf > p.max_no_face_fraction:
        raise ClipRejected("no_face", f"no face in {nf:.0%} of searched frames (max {p.max_no_face_fraction:.0%})")

    if track.landmarks is not None and hasattr(locator, "crop_mouths"):
        mouths = locator.crop_mouths(gray, track)
    else:
        mouths = square_crops(gray, track.mouth_center, track.roi_size, p.crop_size)
    face_src = video.frames[..., ::-1] if p.face_color else gray  # BGR -> RGB
    fbox = track.face_box
    faces = square_crops(
        np.ascontiguousarray(face_src), fbox[:, :2] + fbox[:, 2:] / 2, p.face_crop_scale * fbox[:, 2], p.face_size
    )

    notes = []
    if video.source_fps and abs(video.source_fps - p.fps) > 1e-3:
        notes.append(f"video resampled {video.source_fps:g}->{p.fps} fps")
    if audio.source_rate != p.sample_rate:
        notes.append(f"audio resampled {audio.source_rate}->{p.sample_rate} Hz")
    if audio.source_channels > 1:
        notes.append(f"audio downmixed from {audio.source_channels} channels")
    if video.decoder != "opencv":
        notes.append(f"video decoded with {video.decoder}")
    if audio.decoder != "soundfile":
        notes.append(f"audio decoded from the container with {audio.decoder}")
    row = metadata_columns({**src.meta, "clip_id": src.clip_id}, p.default_split)
    row.update(
        n_frames=T, n_samples=n_samples, drift_samples=int(drift), drift_s=round(drift / p.sample_rate, 6),
        source_fps=round(video.source_fps, 3), source_frames=video.source_frames, source_rate=audio.source_rate,
        source_channels=audio.source_channels, no_face_fraction=round(nf, 4), notes="; ".join(notes),
    )
    used = {"mouth_center": track.mouth_center, "face_box": track.face_box, "roi_size": track.roi_size,
            "detected": track.detected}
    return ClipResult(row, mouths, faces, fit_length(audio.samples, n_samples), used, annotations)
