"""Accuracy on the synthetic corpus: mouth ROI centre within 5 px of the ground truth for >= 95% of frames.

The ground truth (`mouth_center` in each <id>.npz) is only read here, never by the stage.
"""

from __future__ import annotations

import numpy as np
import pytest

synth = pytest.importorskip("avssl.data.synth")


def test_mouth_centre_accuracy_on_synth(tmp_path):
    from avssl.config import Params
    from avssl.data.processed import ProcessedDataset
    from avssl.preprocessing import run_preprocess

    p = Params()
    p.synth = p.synth.model_copy(update=dict(
        n_speakers=5, n_val_speakers=1, n_test_speakers=1, words_per_speaker=4, sentences_per_speaker=1))
    synth.run_synth(p, tmp_path / "in")
    m = run_preprocess(p, tmp_path / "in", tmp_path / "out")
    assert m["n_rejected"] == 0 and m["n_clips"] == 25
    ds = ProcessedDataset(tmp_path / "out")
    err = np.concatenate([
        np.hypot(*(ds.track(c)["mouth_center"] - ds.annotations(c)["mouth_center"]).T) for c in ds.ids()
    ])
    assert np.mean(err < 5.0) >= 0.95, f"within 5 px: {np.mean(err < 5.0):.3f}, median {np.median(err):.2f}"
    # labels from metadata.csv are passed through
    assert {"speaker", "split", "emotion", "word"} <= set(ds.index[0])
