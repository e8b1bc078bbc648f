"""The `landmarks` locator: precomputed <id>.landmarks.npy + avssl.preprocessing.landmark_align."""

from __future__ import annotations

import numpy as np
import pytest
from test_preprocess_media import make_clip, write_metadata

from avssl.config import Params
from avssl.preprocessing import run_preprocess

pytest.importorskip("avssl.preprocessing.landmark_align")


def test_landmark_backend(tmp_path):
    from avssl.preprocessing.mean_face import load_mean_face
    from avssl.data.processed import ProcessedDataset

    ref = load_mean_face()
    d = tmp_path / "in"
    d.mkdir()
    ids = ["a", "b", "nolmk"]
    for i, cid in enumerate(ids):
        truth = make_clip(d, cid, 12, seed=i)
        if cid == "nolmk":
            continue
        # the mean face scaled so its mouth lands on the true mouth: plausible landmarks for the test face
        lm = 0.35 * ref[None] + (truth - 0.35 * ref[48:68].mean(0))[:, None, :]
        lm[3] = np.nan  # a missed frame is interpolated
        np.save(d / f"{cid}.landmarks.npy", lm.astype(np.float32))
    write_metadata(d, [{"clip_id": c, "speaker": "s"} for c in ids])
    p = Params()
    p.preprocess = p.preprocess.model_copy(update={"locator": "landmarks", "max_reject_rate": 0.5})
    m = run_preprocess(p, d, tmp_path / "out")
    assert m["n_clips"] == 2 and m["reject_missing_landmarks"] == 1
    ds = ProcessedDataset(tmp_path / "out")
    item = ds["a"]
    assert item["video"].shape == (12, 96, 96) and item["face"].shape == (12, 64, 64)
    err = np.hypot(*(ds.track("a")["mouth_center"] - ds.annotations("a")["mouth_center"]).T)
    assert err.max() < 1.0
