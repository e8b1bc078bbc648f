"""Shard files: the on-disk layout written by the stage and read by avssl.data.processed.

    OUT/shards/shard-00012/  video.u8     (N,crop,crop) uint8, clips back to back (frame_offset in index)
                             face.u8      (N,S,S[,3]) uint8, same frame offsets
                             audio.f32    (N*samples_per_frame,) float32 (audio_offset in index)
                             index.csv    rows of the clips in this shard
                             rejects.csv  clips of this shard that were rejected
                             track.npz    "<clip_id>/<name>" per-frame geometry used for cropping
                             annotations.npz  "<clip_id>/<name>" arrays copied from <clip_id>.npz
                             shard.json   shapes and dtypes
A shard is written in a temporary folder and renamed into place, so it either exists complete or not at
all: that is what makes the stage resumable at shard granularity.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np

from avssl.preprocessing.npzdet import save_npz

SHARD_FORMAT = 1
REJECT_FIELDS = ["clip_id", "reason", "detail"]


def shard_name(i: int) -> str:
    return f"shard-{i:05d}"


def partition(ids: list[str], per_shard: int) -> list[list[str]]:
    """Deterministic partition: sorted ids, consecutive chunks."""
    ids = sorted(ids)
    return [ids[i : i + per_shard] for i in range(0, len(ids), per_shard)]


def write_csv(path: Path, rows: list[dict], fields: list[str] | None = None) -> None:
    if fields is None:
        fields = []
        for row in rows:
            fields.extend(k for k in row if k not in fields)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, restval="", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class ShardWriter:
    """Appends clips to one shard in a temporary folder; `commit()` renames it into place."""

    def __init__(self, root: Path, index: int, params):
        self.final = Path(root) / shard_name(index)
        self.tmp = Path(root) / f".tmp-{shard_name(index)}-{os.getpid()}"
        for stale in Path(root).glob(f".tmp-{shard_name(index)}-*"):  # left by an interrupted run
            shutil.rmtree(stale, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.name = shard_name(index)
        self.p = params
        self.files = {k: open(self.tmp / k, "wb") for k in ("video.u8", "face.u8", "audio.f32")}
        self.rows: list[dict] = []
        self.rejects: list[dict] = []
        self.track: dict[str, np.ndarray] = {}
        self.annotations: dict[str, np.ndarray] = {}
        self.frames = 0

    def add(self, result) -> None:
        row = dict(result.row)
        cid = row["clip_id"]
        row.update(shard=self.name, frame_offset=self.frames,
                   audio_offset=self.frames * (self.p.sample_rate // self.p.fps))
        self.files["video.u8"].write(np.ascontiguousarray(result.video, np.uint8).tobytes())
        self.files["face.u8"].write(np.ascontiguousarray(result.face, np.uint8).tobytes())
        self.files["audio.f32"].write(np.ascontiguousarray(result.audio, "<f4").tobytes())
        self.frames += len(result.video)
        self.rows.append(row)
        self.track.update({f"{cid}/{k}": v for k, v in result.track.items()})
        self.annotations.update({f"{cid}/{k}": v for k, v in result.annotations.items()})

    def reject(self, row: dict) -> None:
        self.rejects.append(row)

    def commit(self) -> None:
        for fh in self.files.values():
            fh.close()
        p = self.p
        face_shape = [p.face_size, p.face_size] + ([3] if p.face_color else [])
        info = {"format": SHARD_FORMAT, "n_frames": self.frames, "n_clips": len(self.rows),
                "crop_size": p.crop_size, "face_shape": face_shape, "fps": p.fps, "sample_rate": p.sample_rate,
                "samples_per_frame": p.sample_rate // p.fps}
        (self.tmp / "shard.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        write_csv(self.tmp / "index.csv", self.rows)
        write_csv(self.tmp / "rejects.csv", self.rejects, REJECT_FIELDS)
        save_npz(self.tmp / "track.npz", self.track)
        save_npz(self.tmp / "annotations.npz", self.annotations)
        try:
            os.rename(self.tmp, self.final)
        except OSError:  # another job finished the same shard first: theirs is identical
            shutil.rmtree(self.tmp)

    def abort(self) -> None:
        for fh in self.files.values():
            fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
