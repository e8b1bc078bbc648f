"""From processed clips to training batches: augmentation, frame-count batching with length buckets, collate.

Why frame counts: clips vary from under a second to many seconds; a fixed number of clips per batch either
wastes memory on padding or overflows it. Batches are bounded by padded frames (RAVEn: 2400 per GPU), and
length buckets keep similar lengths together so little of the budget is padding.

Reproducibility: each clip's randomness (temporal crop, spatial crop, flip) comes from a generator seeded
with (seed, epoch, index), so results do not depend on DataLoader worker count or on resuming mid-epoch.
The sampler builds GLOBAL batches from (seed, epoch) alone and gives each process an equal share, so the
same settings give the same optimisation steps on 1 or N processes (N dividing ``multiple_of``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from avssl.data.seeds import derive_seed
from avssl.media import SAMPLES_PER_FRAME, TRAIN_CROP, VIDEO_MEAN, VIDEO_STD

MODALITIES = ("video", "audio", "face")


def frame_counts(source: Any, ids: Sequence[str]) -> list[int]:
    """Frames per clip, from ``source.index`` (DataFrame, list of rows or mapping) or by loading the clip."""
    table: dict[str, int] = {}
    index = getattr(source, "index", None)
    if index is not None:
        if hasattr(index, "to_dict"):
            rows = index.to_dict("records")
        elif isinstance(index, Mapping):
            rows = [dict(v, clip_id=k) for k, v in index.items()]
        else:
            rows = list(index)
        table = {str(r["clip_id"]): int(r["n_frames"]) for r in rows if "n_frames" in r}
    return [table[i] if i in table else int(len(source[i]["video"])) for i in ids]


class ClipDataset(Dataset):
    """Map-style view of a ProcessedDataset: item ``(index, epoch)`` -> one augmented sample (unpadded tensors).

    train: random ``crop`` x ``crop`` crop + horizontal flip (p 0.5) of the mouth video and a random temporal
    crop to ``max_frames``; eval: centre crop, first ``max_frames`` frames. ``labels(meta)`` may return extra
    per-clip values (numbers or 1-D arrays) for downstream tasks; they are a function of the clip's metadata, so
    each clip's are derived once and kept (an ASR target is a SentencePiece encoding: once per clip, not per step).

    ``needs_samples(clip_id)``: whether the model will read this clip's samples (``modalities``) in a batch. When
    it says no (a frozen encoder's features come from the `features` table, or from the in-process cache once the
    clip was encoded, see :meth:`avssl.tasks.base.FinetuneObjective.reads_input`), the item carries no samples:
    nothing is sliced, copied or padded. Its ``length`` and labels are the same as with samples, and the random
    draws of the clips that are loaded are unchanged (each comes from its own (seed, epoch, index) stream).
    """

    def __init__(
        self,
        source: Any,
        ids: Sequence[str],
        *,
        train: bool,
        seed: int = 0,
        crop: int = TRAIN_CROP,
        max_frames: int | None = None,
        modalities: Sequence[str] = MODALITIES,
        labels: Callable[[dict], dict[str, Any]] | None = None,
        needs_samples: Callable[[str], bool] | None = None,
    ):
        unknown = set(modalities) - set(MODALITIES)
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)}; known: {MODALITIES}")
        self.source = source
        self.ids = [str(i) for i in ids]
        self.train = train
        self.seed = seed
        self.crop = crop
        self.max_frames = max_frames
        self.modalities = tuple(modalities)
        self.labels = labels
        self.needs_samples = needs_samples
        self._targets: dict[int, dict[str, torch.Tensor]] = {}  # clip index -> its labels, derived once
        self.lengths = [min(n, max_frames) if max_frames else n for n in frame_counts(source, self.ids)]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        idx, epoch = key if isinstance(key, tuple) else (key, 0)
        clip = self.ids[idx]
        item = self.source[clip]
        n = len(item["video"])
        if "audio" in self.modalities:
            n = min(n, len(item["audio"]) // SAMPLES_PER_FRAME)
        t = min(n, self.max_frames) if self.max_frames else n
        out: dict[str, Any] = {"clip_id": clip, "length": t}
        if self.needs_samples is None or self.needs_samples(clip):
            out.update(self._samples(item, idx, epoch, n, t))
        if self.labels is not None:
            if idx not in self._targets:
                self._targets[idx] = {k: torch.as_tensor(v) for k, v in self.labels(item.get("meta", {})).items()}
            out.update(self._targets[idx])
        return out

    def _samples(self, item: dict, idx: int, epoch: int, n: int, t: int) -> dict[str, torch.Tensor]:
        """The clip's ``t`` frames of each modality, cropped (and flipped) as the (seed, epoch, index) stream says."""
        rng = np.random.default_rng(derive_seed(self.seed, epoch, idx))
        # Always draw the same variates in the same order, used or not: stable streams.
        u_start, u_y, u_x, u_flip = rng.random(4)
        start = int(u_start * (n - t + 1)) if self.train else 0
        out: dict[str, torch.Tensor] = {}
        if "video" in self.modalities:
            video = np.asarray(item["video"])
            h, w = video.shape[1:3]
            c = self.crop
            if self.train:
                y, x = int(u_y * (h - c + 1)), int(u_x * (w - c + 1))
            else:
                y, x = (h - c) // 2, (w - c) // 2
            v = video[start : start + t, y : y + c, x : x + c]
            if self.train and u_flip < 0.5:
                v = v[:, :, ::-1]
            v = torch.from_numpy(np.array(v, dtype=np.float32))  # one writable copy (shards are read-only memmaps)
            out["video"] = (v / 255.0 - VIDEO_MEAN) / VIDEO_STD
        if "audio" in self.modalities:
            a = np.asarray(item["audio"], dtype=np.float32)[start * SAMPLES_PER_FRAME : (start + t) * SAMPLES_PER_FRAME]
            out["audio"] = torch.from_numpy(np.array(a, dtype=np.float32))  # copy: shards are read-only memmaps
        if "face" in self.modalities:
            f = np.asarray(item["face"])[start : start + t]
            f = f[:, None] if f.ndim == 3 else f.transpose(0, 3, 1, 2)  # (t, C, H, W)
            out["face"] = torch.from_numpy(np.array(f, dtype=np.float32)) / 127.5 - 1.0
        return out


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad to the longest clip: video (B,T,88,88), audio (B,T*640), face (B,T,C,H,W), lengths, padding_mask.

    A modality none of the samples carries is left out; rows of samples without it stay zero (the model does not
    read them: :class:`ClipDataset` ``needs_samples``)."""
    lengths = torch.tensor([s["length"] for s in samples], dtype=torch.int64)
    b, t = len(samples), int(lengths.max())
    batch: dict[str, Any] = {
        "clip_id": [s["clip_id"] for s in samples],
        "lengths": lengths,
        "padding_mask": torch.arange(t)[None, :] >= lengths[:, None],
    }
    for key, per_frame in (("video", 1), ("audio", SAMPLES_PER_FRAME), ("face", 1)):
        present = [(i, s[key]) for i, s in enumerate(samples) if key in s]
        if not present:
            continue
        first = present[0][1]
        out = first.new_zeros((b, t * per_frame) + tuple(first.shape[1:]))
        for i, x in present:
            out[i, : len(x)] = x
        batch[key] = out
    for key in samples[0]:
        if key in batch or key in ("length", "video", "audio", "face"):
            continue
        values = [s[key] for s in samples]
        if values[0].dim() == 0:
            batch[key] = torch.stack(values)
        else:  # variable-length label sequences (e.g. tokens): pad with -1, keep lengths
            lens = torch.tensor([len(v) for v in values], dtype=torch.int64)
            batch[key] = torch.nn.utils.rnn.pad_sequence(values, batch_first=True, padding_value=-1)
            batch[f"{key}_lengths"] = lens
    return batch


class FrameBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches bounded by padded frames, from length buckets; deterministic in (seed, epoch); shardable; resumable.

    Each epoch: clips sorted by length are split into ``num_buckets`` quantile buckets; each bucket is shuffled
    and cut into groups of ``multiple_of`` clips; groups are packed greedily while ``max_len * n_clips <=
    batch_frames`` (a single group may exceed it); the batch order is shuffled. Up to ``multiple_of - 1``
    clips per bucket are left out of an epoch (different ones each epoch). Process ``rank`` of
    ``world_size`` (which must divide ``multiple_of``) takes every ``world_size``-th clip of each global batch
    sorted by length, so every process gets the same number of clips and similar frame counts.

    Yields lists of ``(index, epoch)`` keys for :class:`ClipDataset`. ``set_epoch(epoch, start_batch)`` sets
    where iteration starts (resume mid-epoch); ``len`` counts the batches still to come.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_frames: int,
        *,
        num_buckets: int = 8,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        multiple_of: int | None = None,
    ):
        multiple_of = multiple_of or world_size
        if multiple_of % world_size:
            raise ValueError(f"world_size {world_size} must divide multiple_of {multiple_of}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} not in [0, {world_size})")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if len(self.lengths) < multiple_of:
            raise ValueError(f"{len(self.lengths)} clips cannot fill one batch of {multiple_of}")
        self.batch_frames = batch_frames
        self.num_buckets = max(1, min(num_buckets, len(self.lengths) // multiple_of))
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.multiple_of = multiple_of
        self.epoch = 0
        self.start_batch = 0
        self._cache: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def global_batches(self, epoch: int) -> list[list[int]]:
        """All processes' batches of ``epoch`` (clip indices sorted by length within a batch)."""
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        rng = np.random.default_rng(derive_seed(self.seed, "batches", epoch))
        order = np.argsort(self.lengths, kind="stable")
        batches: list[list[int]] = []
        for bucket in np.array_split(order, self.num_buckets):
            if self.shuffle:
                bucket = rng.permutation(bucket)
            k = len(bucket) // self.multiple_of * self.multiple_of
            groups = bucket[:k].reshape(-1, self.multiple_of)
            current: list[int] = []
            longest = 0
            for g in groups:
                glong = int(self.lengths[g].max())
                if current and max(longest, glong) * (len(current) + len(g)) > self.batch_frames:
                    batches.append(current)
                    current, longest = [], 0
                current.extend(int(i) for i in g)
                longest = max(longest, glong)
            if current:
                batches.append(current)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        batches = [sorted(b, key=lambda i: (self.lengths[i], i)) for b in batches]
        self._cache = (epoch, batches)
        return batches

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch = self.epoch
        for batch in self.global_batches(epoch)[self.start_batch :]:
            yield [(i, epoch) for i in batch[self.rank :: self.world_size]]

    def __len__(self) -> int:
        return max(0, len(self.global_batches(self.epoch)) - self.start_batch)
