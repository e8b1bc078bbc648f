"""Find the clips in an input folder and pair them with metadata.

Anything that cannot become a clip (one file of the pair missing, metadata rows without files, files
without metadata) is returned as a reject row so nothing disappears silently. Extensions match in any case
(``.MP4``, ``.Wav``: cameras and Windows tools write them so). Every other entry of the folder that the stage
does not read (documents, other media, sub-folders, a second file of the same clip) is listed by
:func:`discover_all` as an unused file with the reason, written to ``unused_files.csv`` and summarised.
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


UNUSED_FIELDS = ["file", "reason", "detail"]
MEDIA = {".mp4": "video", ".wav": "audio"}
COMPANIONS = (".npz", ".landmarks.npy")  # read next to a clip: annotations, landmarks


def discover(input_dir: Path, require_metadata: bool = True) -> tuple[list[ClipSource], list[dict]]:
    """Return (clips sorted by id, reject rows) for a folder of `<id>.mp4` + `<id>.wav` pairs."""
    clips, rejects, _ = discover_all(input_dir, require_metadata)
    return clips, rejects


def _media(input_dir: Path) -> tuple[dict[str, Path], dict[str, Path], list[dict]]:
    """(<id> -> video, <id> -> audio, unused rows for same-id duplicates), extensions in any case."""
    found: dict[str, dict[str, Path]] = {"video": {}, "audio": {}}
    unused: list[dict] = []
    for p in sorted(input_dir.iterdir()):
        kind = MEDIA.get(p.suffix.lower())
        if kind is None or not p.is_file():
            continue
        if p.stem in found[kind]:
            unused.append(_unused_row(p.name, f"duplicate_{kind}",
                                      f"second {kind} file of clip {p.stem}; {found[kind][p.stem].name} is used"))
            continue
        found[kind][p.stem] = p
    return found["video"], found["audio"], unused


def _unused(input_dir: Path, used: set[str], rejected: set[str]) -> list[dict]:
    """Every entry of ``input_dir`` the stage does not read and no reject row already accounts for."""
    rows = []
    for p in sorted(input_dir.iterdir()):
        if p.name in used:
            continue
        if p.is_dir():
            rows.append(_unused_row(p.name + "/", "folder", "not searched: clips must lie directly in the input folder"))
            continue
        stem = next((p.name[: -len(c)] for c in COMPANIONS if p.name.lower().endswith(c)), None)
        if p.suffix.lower() in MEDIA and p.stem in rejected:
            continue  # its clip is a reject row, with the reason
        if stem is not None and stem in rejected:
            rows.append(_unused_row(p.name, "clip_rejected", f"belongs to clip {stem}, rejected (see rejects.csv)"))
        elif stem is not None:
            rows.append(_unused_row(p.name, "no_clip", f"no clip {stem} (.mp4 + .wav) to go with it"))
        else:
            rows.append(_unused_row(p.name, "not_a_clip_file", "expected <id>.mp4, <id>.wav, <id>.npz, "
                                    "<id>.landmarks.npy or metadata.csv (extensions in any case)"))
    return rows


def discover_all(input_dir: Path, require_metadata: bool = True) -> tuple[list[ClipSource], list[dict], list[dict]]:
    """(clips sorted by id, reject rows, unused-file rows {file, reason}) for a folder of clip pairs."""
    input_dir = Path(input_dir)
    videos, audios, duplicates = _media(input_dir)
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
    used = {p.name for c in clips for p in (c.video, c.audio, c.annotations, c.landmarks) if p is not None}
    used |= {meta_path.name} if metadata is not None else set()
    used |= {d["file"] for d in duplicates}
    unused = duplicates + _unused(input_dir, used, {r["clip_id"] for r in rejects})
    return clips, rejects, sorted(unused, key=lambda r: r["file"])


def _unused_row(file: str, reason: str, detail: str) -> dict:
    return {"file": file, "reason": reason, "detail": detail}


def _reject(clip_id: str, reason: str, detail: str) -> dict:
    return {"clip_id": clip_id, "reason": reason, "detail": detail}
