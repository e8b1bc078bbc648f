"""Loader throughput: mouth frames per second per core read from shards through the training path
(ClipDataset: random 88x88 crop + flip, normalised float tensors).

    PYTHONPATH=src .venv/bin/python bench/bench_loader.py [--path PROCESSED_DIR] [--seconds 5]

Without --path it writes fake shards (random pixels, the real layout) to a temp folder. Page cache is warm
after the first pass, as in training. Target: >= 10,000 frames/s per core.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def fake_processed(root: Path, n_clips: int = 64, frames: int = 75, per_shard: int = 16) -> None:
    """Shards in the preprocess layout without running the (slow) stage."""
    from avssl.config.preprocess import PreprocessParams
    from avssl.preprocessing.clip import ClipResult
    from avssl.preprocessing.merge import merge_shards
    from avssl.preprocessing.shards import REJECT_FIELDS, ShardWriter, write_csv

    pp = PreprocessParams()
    rng = np.random.default_rng(0)
    ids = [f"c{i:04d}" for i in range(n_clips)]
    (root / "shards").mkdir(parents=True)
    import json

    (root / "plan.json").write_text(json.dumps({"params": pp.model_dump(), "shards": [
        ids[i : i + per_shard] for i in range(0, n_clips, per_shard)]}))
    write_csv(root / "discovery_rejects.csv", [], REJECT_FIELDS)
    for s in range(0, n_clips, per_shard):
        w = ShardWriter(root / "shards", s // per_shard, pp)
        for cid in ids[s : s + per_shard]:
            row = {"clip_id": cid, "split": "train", "speaker": "x", "n_frames": frames, "n_samples": frames * 640,
                   "drift_s": 0.0, "notes": ""}
            w.add(ClipResult(row, rng.integers(0, 256, (frames, 96, 96), np.uint8),
                             rng.integers(0, 256, (frames, 64, 64), np.uint8),
                             rng.normal(size=frames * 640).astype(np.float32), {}, {}))
        w.commit()
    merge_shards(root)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", type=Path)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    import torch

    from avssl.data.batching import ClipDataset
    from avssl.data.processed import ProcessedDataset

    torch.set_num_threads(1)  # one core, as in a DataLoader worker

    with tempfile.TemporaryDirectory() as tmp:
        path = args.path
        if path is None:
            path = Path(tmp)
            fake_processed(path)
        ds = ProcessedDataset(path)
        ids = ds.ids()
        data = ClipDataset(ds, ids, train=True, seed=0, modalities=("video",))
        rng = np.random.default_rng(0)
        for i in range(len(ids)):  # warm the page cache
            data[i]
        frames, epoch, t0 = 0, 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            epoch += 1
            frames += int(data[(int(rng.integers(len(ids))), epoch)]["length"])
        dt = time.perf_counter() - t0
    print(f"clips {len(ids)}, frames {frames} in {dt:.2f} s: {frames / dt:.0f} mouth frames/s on one core "
          f"(target >= 10000)")


if __name__ == "__main__":
    main()
