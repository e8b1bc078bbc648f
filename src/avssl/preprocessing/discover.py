"""Find the clips in an input folder and pair them with metadata.

Anything that cannot become a clip (one file of the pair missing, metadata rows without files, files
without metadata) is returned as a reject row so nothing disappears silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ClipSource:
    """Paths and pass-through metadata of one input clip.

    The folder form (this module) fills only the first fields. A real dataset's index
    (:mod:`avssl.preprocessing.index_input`) may also cut the clip out of a longer file (`video_span`,
    `audio_span`: (start, end) seconds, None = open end) and give clip-level values that become constant
    per-frame annotation arrays (`constant_annotations`, e.g. IEMOCAP's arousal/valence).
    """

    clip_id: str
    video: Path
    audio: Path
    annotations: Path | None = None
    landmarks: Path | None = None
    meta: dict = field(default_factory=dict, hash=False, compare=False)
    video_span: tuple[float | None, float | None] | None = None
    audio_span: tuple[float | None, float | None] | None = None
    constant_annotations: dict = field(default_factory=dict, hash=False, compare=False)


def read_metadata(path: Path) -> dict[str, dict]:
    """metadata.csv -> {clip_id: row}. Requires a `clip_id` column; other columns are passed through."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "clip_id" not in reader.fieldnames:
            raise ValueError(f"{path}: needs a 'clip_id' column (has {reader.fieldnames})")
        return {row["clip_id"]: dict(row) for row in reader if row.get("clip_id")}


def discover(input_dir: Path, require_metadata: bool = True) -> tuple[list[ClipSource], list[dict]]:
    """Return (clips sorted by id, reject rows) for a folder of `<id>.mp4` + `<id>.wav` pairs."""
    input_dir = Path(input_dir)
    videos = {p.stem: p for p in input_dir.glob("*.mp4") if p.is_file()}
    audios = {p.stem: p for p in input_dir.glob("*.wav") if p.is_file()}
    meta_path = input_dir / "metadata.csv"
    metadata = read_metadata(meta_path) if meta_path.is_file() else None
    rejects: list[dict] = []
    clips: list[ClipSource] = []
    ids = sorted(set(videos) | set(audios) | set(metadata or {}))
    for cid in ids:
        v, a = videos.get(cid), audios.get(cid)
        if v is None and a is None:
            rejects.append(_reject(cid, "missing_files", "listed in metadata.csv but no .mp4/.wav"))
            continue
        if v is None:
            rejects.append(_reject(cid, "missing_video", f"{a.name} has no matching .mp4"))
            continue
        if a is None:
            rejects.append(_reject(cid, "missing_audio", f"{v.name} has no matching .wav"))
            continue
        if metadata is not None and cid not in metadata and require_metadata:
            rejects.append(_reject(cid, "no_metadata", "files present but clip_id not in metadata.csv"))
            continue
        npz = input_dir / f"{cid}.npz"
        lmk = input_dir / f"{cid}.landmarks.npy"
        clips.append(
            ClipSource(
                cid, v, a,
                annotations=npz if npz.is_file() else None,
                landmarks=lmk if lmk.is_file() else None,
                meta=dict((metadata or {}).get(cid, {})),
            )
        )
    return clips, rejects


def _reject(clip_id: str, reason: str, detail: str) -> dict:
    return {"clip_id": clip_id, "reason": reason, "detail": detail}
