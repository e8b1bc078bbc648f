"""Test media for the preprocess tests (a real face: skimage's astronaut) + tests of the media readers.

Other test_preprocess*.py files import the builders from here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

MOUTH_512 = np.array([223.5, 140.0])  # midpoint of the astronaut's mouth corners in the 512x512 photo
_PHOTO = None


def photo() -> np.ndarray:
    global _PHOTO
    if _PHOTO is None:
        from skimage.data import astronaut

        _PHOTO = np.ascontiguousarray(astronaut()[:, :, ::-1])
    return _PHOTO


def face_frames(n: int, seed: int = 0, size: int = 224, scale: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """n BGR frames with the astronaut's face drifting smoothly; returns (frames, true mouth centres (n,2))."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    phase = rng.uniform(0, 2 * np.pi, 2)
    # the face centre (223, 120 in the photo) moves along a slow Lissajous path around the frame centre
    cx = size / 2 + 14 * np.sin(2 * np.pi * t / 60 + phase[0])
    cy = size / 2 + 10 * np.sin(2 * np.pi * t / 45 + phase[1])
    frames, mouths = [], []
    for i in range(n):
        tx, ty = cx[i] - scale * 223, cy[i] - scale * 120
        m = np.array([[scale, 0, tx + 0.5 * scale - 0.5], [0, scale, ty + 0.5 * scale - 0.5]])
        f = cv2.warpAffine(photo(), m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(90, 90, 90))
        noise = rng.normal(0, 2, f.shape)
        frames.append(np.clip(f + noise, 0, 255).astype(np.uint8))
        mouths.append(scale * MOUTH_512 + [tx, ty])
    return np.stack(frames), np.array(mouths, np.float32)


def write_video(path: Path, frames: np.ndarray, fps: float = 25) -> None:
    h, w = frames.shape[1:3]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()


def write_audio(path: Path, n: int, rate: int = 16000, seed: int = 0, amp: float = 0.1) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = amp * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.normal(size=n)
    sf.write(str(path), x.astype(np.float32), rate, subtype="PCM_16")


def make_clip(folder: Path, clip_id: str, n_frames: int = 25, seed: int = 0, blank: bool = False,
              audio_frames: float | None = None, rate: int = 16000) -> np.ndarray:
    """<id>.mp4 + <id>.wav + <id>.npz (with ground truth) in `folder`; returns the true mouth centres."""
    frames, mouths = face_frames(n_frames, seed)
    if blank:
        frames = np.full_like(frames, 90)
    write_video(folder / f"{clip_id}.mp4", frames)
    n_audio = int(round((n_frames if audio_frames is None else audio_frames) * rate / 25))
    write_audio(folder / f"{clip_id}.wav", n_audio, rate, seed)
    rng = np.random.default_rng(seed)
    np.savez(folder / f"{clip_id}.npz", arousal=rng.uniform(-1, 1, n_frames).astype(np.float32),
             valence=rng.uniform(-1, 1, n_frames).astype(np.float32), mouth_center=mouths)
    return mouths


def make_corpus(folder: Path, n: int, n_frames: int = 25, speakers: int = 2) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"clip{i:03d}" for i in range(n)]
    rows = []
    for i, cid in enumerate(ids):
        make_clip(folder, cid, n_frames, seed=i)
        rows.append({"clip_id": cid, "speaker": f"spk{i % speakers}", "split": "val" if i % 4 == 3 else "train",
                     "emotion": ["happy", "sad"][i % 2]})
    write_metadata(folder, rows)
    return ids


def write_metadata(folder: Path, rows: list[dict]) -> None:
    with open(folder / "metadata.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# ---- tests of the readers --------------------------------------------------------------------------


def test_read_video_and_resample(tmp_path):
    from avssl.preprocessing.video import read_video

    frames, _ = face_frames(20)
    write_video(tmp_path / "a.mp4", frames, fps=50)
    v = read_video(tmp_path / "a.mp4", 25)
    assert v.frames.shape == (10, 224, 224, 3) and v.source_fps == 50 and v.source_frames == 20


def test_read_audio_resamples_and_rejects(tmp_path):
    from avssl.preprocessing.audio import fit_length, read_audio
    from avssl.preprocessing.errors import ClipRejected

    write_audio(tmp_path / "a.wav", 44100, rate=44100)
    a = read_audio(tmp_path / "a.wav", 16000, 1e-4)
    assert a.source_rate == 44100 and abs(len(a.samples) - 16000) <= 1 and a.samples.dtype == np.float32
    assert len(fit_length(a.samples, 16640)) == 16640 and len(fit_length(a.samples, 100)) == 100
    sf.write(str(tmp_path / "s.wav"), np.zeros(16000, np.float32), 16000)
    with pytest.raises(ClipRejected, match="silent_audio"):
        read_audio(tmp_path / "s.wav", 16000, 1e-4)
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(ClipRejected, match="unreadable_audio"):
        read_audio(tmp_path / "e.wav", 16000, 1e-4)


def test_haar_locator_tracks_the_mouth(tmp_path):
    from avssl.config.preprocess import PreprocessParams
    from avssl.preprocessing.haar import HaarLocator

    frames, truth = face_frames(60, seed=3)
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
    track = HaarLocator(PreprocessParams()).locate(gray)
    err = np.hypot(*(track.mouth_center - truth).T)
    assert track.no_face_fraction == 0.0
    assert np.mean(err < 5) >= 0.95, (err.max(), np.median(err))
