"""Batching: augmentation, collate, frame-count bucket sampler (determinism, sharding, resume)."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from avssl.data.batching import VIDEO_MEAN, VIDEO_STD, ClipDataset, FrameBatchSampler, collate, frame_counts
from test_training_fakes import FakeProcessedDataset


@pytest.fixture(scope="module")
def src():
    return FakeProcessedDataset(n=24, seed=3)


def test_frame_counts_from_index_and_fallback(src):
    ids = src.ids(split="train")
    assert frame_counts(src, ids) == [len(src[i]["video"]) for i in ids]

    class NoIndex:
        def __getitem__(self, k):
            return src[k]

    assert frame_counts(NoIndex(), ids[:3]) == [len(src[i]["video"]) for i in ids[:3]]


def test_eval_item_is_centre_crop_normalised(src):
    ds = ClipDataset(src, src.ids(), train=False, max_frames=None)
    item = ds[0]
    raw = src[src.ids()[0]]
    expect = (torch.from_numpy(raw["video"][:, 4:92, 4:92]).float() / 255 - VIDEO_MEAN) / VIDEO_STD
    assert torch.equal(item["video"], expect)
    assert item["audio"].shape == (item["length"] * 640,)
    assert item["face"].shape == (item["length"], 1, 16, 16)
    assert item["face"].min() >= -1 and item["face"].max() <= 1


def test_train_augmentation_depends_only_on_seed_epoch_index(src):
    a = ClipDataset(src, src.ids(), train=True, seed=1, max_frames=10)
    b = ClipDataset(src, src.ids(), train=True, seed=1, max_frames=10)
    assert torch.equal(a[(5, 2)]["video"], b[(5, 2)]["video"])
    assert a[(5, 2)]["length"] == 10
    # different epochs give different crops/flips for at least one clip
    assert any(not torch.equal(a[(i, 0)]["video"], a[(i, 1)]["video"]) for i in range(8))
    # flips happen about half the time, audio stays aligned with the temporal crop
    raw = src[src.ids()[5]]
    it = a[(5, 2)]
    starts = [s for s in range(len(raw["video"]) - 9) if np.array_equal(raw["audio"][s * 640 : (s + 10) * 640], it["audio"].numpy())]
    assert len(starts) == 1


def test_rgb_face_and_labels():
    src = FakeProcessedDataset(n=4, seed=0, face_rgb=True)
    ds = ClipDataset(src, src.ids(), train=False, labels=lambda meta: {"label": meta["label"]})
    batch = collate([ds[0], ds[1], ds[2]])
    assert batch["face"].shape[2] == 3 and batch["label"].tolist() == [0, 1, 2]


def test_collate_pads_and_masks(src):
    ds = ClipDataset(src, src.ids(), train=False)
    samples = [ds[0], ds[1], ds[2]]
    batch = collate(samples)
    lengths = [s["length"] for s in samples]
    t = max(lengths)
    assert batch["video"].shape == (3, t, 88, 88) and batch["audio"].shape == (3, t * 640)
    assert batch["face"].shape == (3, t, 1, 16, 16)
    assert batch["lengths"].tolist() == lengths
    assert batch["padding_mask"].dtype == torch.bool
    for i, n in enumerate(lengths):
        assert not batch["padding_mask"][i, :n].any() and batch["padding_mask"][i, n:].all()
        assert (batch["video"][i, n:] == 0).all()
    assert batch["clip_id"] == [s["clip_id"] for s in samples]


def test_sampler_budget_coverage_determinism():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 60, size=101).tolist()
    s = FrameBatchSampler(lengths, 200, num_buckets=4, seed=9)
    batches = s.global_batches(0)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(101))  # multiple_of 1: every clip once
    for b in batches:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 200
    assert batches == FrameBatchSampler(lengths, 200, num_buckets=4, seed=9).global_batches(0)
    assert batches != s.global_batches(1)
    assert batches != FrameBatchSampler(lengths, 200, num_buckets=4, seed=10).global_batches(0)
    # buckets keep padding low
    pad = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)
    assert pad / sum(lengths) < 0.35


def test_sampler_shards_equal_global_batch_and_resume():
    lengths = list(range(10, 50))
    one = FrameBatchSampler(lengths, 300, num_buckets=3, seed=1, multiple_of=2)
    ranks = [FrameBatchSampler(lengths, 300, num_buckets=3, seed=1, rank=r, world_size=2, multiple_of=2) for r in range(2)]
    for r in ranks:
        r.set_epoch(3)
    one.set_epoch(3)
    full = list(one)
    parts = [list(r) for r in ranks]
    assert len(parts[0]) == len(parts[1]) == len(full)
    for g, p0, p1 in zip(full, *parts):
        assert len(p0) == len(p1)
        assert sorted(g) == sorted(p0 + p1)
        assert all(e == 3 for _, e in g)
    one.set_epoch(3, start_batch=4)
    assert list(one) == full[4:] and len(one) == len(full) - 4
    with pytest.raises(ValueError):
        FrameBatchSampler(lengths, 300, world_size=2, rank=0, multiple_of=3)


def test_loader_independent_of_worker_count(src):
    ds = ClipDataset(src, src.ids(split="train"), train=True, seed=4, max_frames=12)

    def batches(workers):
        s = FrameBatchSampler(ds.lengths, 60, num_buckets=2, seed=2)
        s.set_epoch(1)
        return list(DataLoader(ds, batch_sampler=s, num_workers=workers, collate_fn=collate))

    a, b = batches(0), batches(2)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x["clip_id"] == y["clip_id"] and torch.equal(x["video"], y["video"]) and torch.equal(x["audio"], y["audio"])


def test_read_only_shards_give_tensors_without_a_not_writable_warning(src):
    """Processed shards are read-only memmaps: items must be writable copies (torch warns on read-only numpy)."""
    import warnings

    class ReadOnly:
        def __init__(self, inner):
            self.inner = inner

        def __getitem__(self, key):
            item = dict(self.inner[key])
            for k in ("video", "audio", "face"):
                item[k] = np.array(item[k])
                item[k].flags.writeable = False
            return item

    for crop in (88, 96):  # a centre crop (non-contiguous slice) and the full frame (a read-only view)
        ds = ClipDataset(ReadOnly(src), src.ids(), train=False, crop=crop)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            item = ds[0]
        item["video"].add_(1.0)
        item["face"].add_(1.0)


class ShortAudio:
    """``src`` with 3 frames of audio cut from odd-numbered clips: a clip's length is its shorter stream."""

    def __init__(self, inner):
        self.inner, self.index = inner, inner.index

    def __getitem__(self, key):
        item = self.inner[key]
        return {**item, "audio": item["audio"][: -3 * 640]} if int(key[-1]) % 2 else item


def test_items_the_model_will_not_read_carry_no_samples_but_the_same_lengths_and_labels(src):
    """What a frozen head on cached features relies on: leaving a clip's samples out of the batch changes nothing
    else (lengths from video, audio and max_frames; padding mask; labels), and the clips that are loaded get the
    same random crops as when every clip is."""
    source, ids = ShortAudio(src), src.ids()
    labels = lambda meta: {"label": meta["label"], "seq": np.arange(meta["label"] + 1)}  # noqa: E731
    full = ClipDataset(source, ids, train=True, seed=5, max_frames=20, labels=labels)
    loaded = {ids[i] for i in (1, 4, 7)}
    some = ClipDataset(source, ids, train=True, seed=5, max_frames=20, labels=labels, needs_samples=loaded.__contains__)
    none = ClipDataset(source, ids, train=True, seed=5, max_frames=20, labels=labels, needs_samples=lambda c: False)
    keys = [(i, 2) for i in range(8)]
    a, b, c = (collate([ds[k] for k in keys]) for ds in (full, some, none))
    assert any(n < min(len(src[ids[i]]["video"]), 20) for i, n in enumerate(a["lengths"].tolist()))  # audio-bound
    assert all(n == 20 for n in a["lengths"].tolist() if n >= 20) and max(a["lengths"]) == 20  # max_frames-bound
    for batch in (b, c):
        assert batch["clip_id"] == a["clip_id"] and torch.equal(batch["lengths"], a["lengths"])
        assert torch.equal(batch["padding_mask"], a["padding_mask"])
        for key in ("label", "seq", "seq_lengths"):
            assert torch.equal(batch[key], a[key]), key
    assert not {"video", "audio", "face"} & set(c)
    for key in ("video", "audio", "face"):
        assert b[key].shape == a[key].shape
        for i, (clip, _) in enumerate(keys):
            want = a[key][i] if ids[clip] in loaded else torch.zeros_like(a[key][i])
            assert torch.equal(b[key][i], want), (key, i)


def test_labels_are_derived_once_per_clip(src):
    calls = []
    ds = ClipDataset(src, src.ids(), train=True, seed=1, modalities=("audio",),
                     labels=lambda meta: calls.append(meta["clip_id"]) or {"label": meta["label"]})  # fmt: skip
    for epoch in range(3):
        assert [ds[(i, epoch)]["label"].item() for i in range(len(ds))] == [src[c]["meta"]["label"] for c in src.ids()]
    assert calls == src.ids()
