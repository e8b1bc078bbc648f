"""Fakes for the training tests: an in-memory ProcessedDataset and a toy PretrainObjective.

Also a command-line runner (``python tests/test_training_fakes.py OUT ...``) used by the subprocess tests
(SIGKILL / SIGTERM resume, torchrun DDP): it trains the toy objective and saves the final weights.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class FakeProcessedDataset:
    """Same interface as avssl.data.processed.ProcessedDataset, random content, deterministic in ``seed``."""

    def __init__(self, n: int = 24, lengths=None, seed: int = 0, face_hw: int = 16, face_rgb: bool = False):
        rng = np.random.default_rng(seed)
        lengths = list(lengths) if lengths is not None else rng.integers(8, 30, size=n).tolist()
        self._clips = {}
        self.index = []
        for i, t in enumerate(lengths):
            cid = f"clip{i:03d}"
            split = "val" if i % 6 == 5 else "train"
            face_shape = (t, face_hw, face_hw, 3) if face_rgb else (t, face_hw, face_hw)
            self._clips[cid] = {
                "video": rng.integers(0, 256, size=(t, 96, 96), dtype=np.uint8),
                "face": rng.integers(0, 256, size=face_shape, dtype=np.uint8),
                "audio": rng.standard_normal(t * 640).astype(np.float32) * 0.1,
                "meta": {"clip_id": cid, "speaker": f"s{i % 3}", "label": i % 4},
            }
            self.index.append({"clip_id": cid, "split": split, "n_frames": int(t)})

    def __len__(self) -> int:
        return len(self._clips)

    def __getitem__(self, clip_id: str) -> dict:
        return self._clips[clip_id]

    def __iter__(self):
        return iter(self._clips)

    def ids(self, split: str | None = None) -> list[str]:
        return [r["clip_id"] for r in self.index if split is None or r["split"] == split]


class ToyObjective(nn.Module):
    """Video student predicts an EMA audio teacher's per-frame features; has BN, dropout, random masking.

    Per-sample mean loss (so DDP with equal clips per process equals one process with the global batch).
    """

    modalities = ("video", "audio")
    grad_clip = 1.0

    def __init__(self, dim: int = 8, sleep: float = 0.0, dropout: float = 0.1, mask_prob: float = 0.2):
        super().__init__()
        self.video = nn.ModuleDict({"proj": nn.Linear(121, dim, bias=False), "bn": nn.BatchNorm1d(dim)})
        self.video_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, dim))
        self.audio = nn.Linear(40, dim)
        self.teacher = copy.deepcopy(self.audio).requires_grad_(False)
        self.mask_prob = mask_prob
        self.generator = torch.Generator().manual_seed(5)  # private masking stream, like RAVEn's
        self.sleep = sleep

    def _video_feats(self, video):  # (B,T,88,88) -> (B,T,D)
        b, t = video.shape[:2]
        x = F.avg_pool2d(video.reshape(b * t, 1, 88, 88), 8).reshape(b, t, 121)
        h = self.video["proj"](x)
        h = self.video["bn"](h.transpose(1, 2)).transpose(1, 2)
        return self.video_head(h)

    def forward(self, batch):
        video, audio, pad = batch["video"], batch["audio"], batch["padding_mask"]
        b, t = video.shape[:2]
        mask = (torch.rand(b, t, generator=self.generator).to(video.device) < self.mask_prob) & ~pad
        video = video.masked_fill(mask[:, :, None, None], 0.0)
        pred = self._video_feats(video)
        a = F.avg_pool1d(audio.reshape(b * t, 1, 640), 16).reshape(b, t, 40)
        with torch.no_grad():
            target = self.teacher(a)
        student = self.audio(a)
        keep = (~pad).float()
        n = keep.sum(1).clamp(min=1)
        v2a = ((((pred - target) ** 2).mean(-1) * keep).sum(1) / n).mean()
        a2a = ((((student - target.roll(1, -1)) ** 2).mean(-1) * keep).sum(1) / n).mean()
        loss = v2a + a2a
        return {"loss": loss, "v2a": v2a.detach(), "a2a": a2a.detach()}

    def param_groups(self):
        video = [p for n, p in self.named_parameters() if n.startswith("video") and p.requires_grad]
        return [
            {"name": "video", "params": video, "lr": 3e-3, "weight_decay": 0.01},
            {"name": "audio", "params": list(self.audio.parameters()), "lr": 1e-3},
        ]

    @torch.no_grad()
    def on_step_end(self, step, total_steps):
        m = 1 - 0.5 * (1 - 0.99) * (1 + np.cos(np.pi * step / total_steps))
        for t, s in zip(self.teacher.parameters(), self.audio.parameters()):
            t.mul_(m).add_(s, alpha=1 - m)
        if self.sleep:
            time.sleep(self.sleep)
        return {"momentum": float(m)}

    def encoders(self):
        return {"video": self.video, "audio": self.audio}


def toy_setup(n=24, seed=0, lengths=None, max_frames=20, **objective_kwargs):
    """(objective, train ClipDataset, val ClipDataset) with fixed initial weights."""
    from avssl.data.batching import ClipDataset

    src = FakeProcessedDataset(n=n, lengths=lengths, seed=seed)
    torch.manual_seed(1234)
    obj = ToyObjective(**objective_kwargs)
    train = ClipDataset(src, src.ids(split="train"), train=True, seed=seed, max_frames=max_frames, modalities=obj.modalities)
    val = ClipDataset(src, src.ids(split="val"), train=False, seed=seed, max_frames=max_frames, modalities=obj.modalities)
    return obj, train, val


def tiny_cfg(**over):
    from avssl.config.train import TrainParams

    base = dict(steps=12, batch_frames=120, max_frames=20, num_buckets=2, batch_multiple=2, log_every=2,
                checkpoint_every=4, val_batches=1, device="cpu", warmup_fraction=0.25, lr=1e-3)
    base.update(over)
    return TrainParams(**base)


def main(argv=None) -> int:
    """Subprocess runner: train the toy objective, save its final state dict (rank 0) to ``--dump``."""
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dump", required=True)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--checkpoint-every", type=int, default=2)
    ap.add_argument("--batch-frames", type=int, default=120)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--equal-lengths", type=int, default=0)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--mask-prob", type=float, default=0.2)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from avssl.training.loop import Preempted, train

    lengths = [args.equal_lengths] * args.clips if args.equal_lengths else None
    obj, train_ds, _ = toy_setup(n=args.clips, lengths=lengths, sleep=args.sleep, dropout=args.dropout, mask_prob=args.mask_prob)
    cfg = tiny_cfg(steps=args.steps, checkpoint_every=args.checkpoint_every, batch_frames=args.batch_frames, val_batches=0)
    try:
        result = train(obj, train_ds, cfg, args.out, seed=7, progress=False)
    except Preempted as exc:
        print(f"PREEMPTED {exc.step}", flush=True)
        return 143
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(obj.state_dict(), args.dump)
        with open(args.dump + ".json", "w") as fh:
            json.dump({k: v for k, v in result.items() if k != "history"}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
