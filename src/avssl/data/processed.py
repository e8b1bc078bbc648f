"""ProcessedDataset: random access to the shards written by `avssl preprocess`.

Shards are raw binaries opened with np.memmap, so reading a clip is a slice (no decoding, no copy until
the caller converts it); the index is a small CSV. See avssl.preprocessing.shards for the layout.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator

import numpy as np

INT_COLUMNS = ("frame_offset", "audio_offset", "n_frames", "n_samples", "drift_samples")


class ProcessedDataset:
    """`ds[clip_id] -> {"video": uint8[T,C,C], "face": uint8[T,H,W(,3)], "audio": float32[T*spf], "meta": dict}`."""

    def __init__(self, path: str | Path):
        self.root = Path(path)
        index = self.root / "index.csv"
        if not index.is_file():
            raise FileNotFoundError(f"{index} not found: is {self.root} the output of `avssl preprocess`?")
        with open(index, newline="", encoding="utf-8") as fh:
            self.index: list[dict] = [_typed(r) for r in csv.DictReader(fh)]
        self._by_id = {r["clip_id"]: r for r in self.index}
        self._shards: dict[str, dict] = {}
        self._npz: dict[tuple[str, str], np.lib.npyio.NpzFile] = {}

    # -- container protocol ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, clip_id: str) -> bool:
        return clip_id in self._by_id

    def __iter__(self) -> Iterator[dict]:
        for row in self.index:
            yield self[row["clip_id"]]

    def ids(self, split: str | None = None) -> list[str]:
        return [r["clip_id"] for r in self.index if split is None or r["split"] == split]

    def __getitem__(self, clip_id: str) -> dict:
        row = self._by_id[clip_id]
        sh = self._shard(row["shard"])
        f0, n = row["frame_offset"], row["n_frames"]
        a0, na = row["audio_offset"], row["n_samples"]
        return {
            "video": sh["video"][f0 : f0 + n],
            "face": sh["face"][f0 : f0 + n],
            "audio": sh["audio"][a0 : a0 + na],
            "meta": dict(row),
        }

    # -- per-frame arrays -------------------------------------------------------------------------
    def annotations(self, clip_id: str) -> dict[str, np.ndarray]:
        """Arrays copied from the input `<clip_id>.npz` (e.g. arousal, valence)."""
        return self._arrays(clip_id, "annotations.npz")

    def track(self, clip_id: str) -> dict[str, np.ndarray]:
        """Geometry used for cropping, frame coordinates: mouth_center (T,2), face_box (T,4), roi_size, detected."""
        return self._arrays(clip_id, "track.npz")

    def _arrays(self, clip_id: str, name: str) -> dict[str, np.ndarray]:
        shard = self._by_id[clip_id]["shard"]
        key = (shard, name)
        if key not in self._npz:
            self._npz[key] = np.load(self.root / "shards" / shard / name, allow_pickle=False)
        z, prefix = self._npz[key], f"{clip_id}/"
        return {k[len(prefix) :]: z[k] for k in z.files if k.startswith(prefix)}

    def _shard(self, name: str) -> dict:
        if name not in self._shards:
            d = self.root / "shards" / name
            info = json.loads((d / "shard.json").read_text())
            n, c = info["n_frames"], info["crop_size"]

            def mm(file, dtype, shape):
                if n == 0:
                    return np.zeros(shape, dtype)
                return np.memmap(d / file, dtype=dtype, mode="r", shape=shape)

            self._shards[name] = {
                "video": mm("video.u8", np.uint8, (n, c, c)),
                "face": mm("face.u8", np.uint8, (n, *info["face_shape"])),
                "audio": mm("audio.f32", "<f4", (n * info["samples_per_frame"],)),
                "info": info,
            }
        return self._shards[name]


def _typed(row: dict) -> dict:
    out = dict(row)
    for k in INT_COLUMNS:
        if out.get(k, "") != "":
            out[k] = int(out[k])
    return out
