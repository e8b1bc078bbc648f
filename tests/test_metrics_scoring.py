"""Scorer: metrics accumulated over batches equal the metrics of the concatenated set."""

import numpy as np
import pytest
import torch

from avssl.tasks import metrics as M
from avssl.tasks.scoring import Scorer


def test_classification_scorer_pools_batches():
    s = Scorer.for_task("emotion", num_classes=3)
    s.update({"label": torch.tensor([0, 0, 1])}, {"pred": torch.tensor([0, 1, 1])})
    s.update({"label": torch.tensor([2, 2])}, {"pred": torch.tensor([2, 0])})
    out = s.compute()
    assert out["accuracy"] == pytest.approx(3 / 5) and out["n"] == 5
    assert out["uar"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert s.confusion().sum() == 5


def test_affect_scorer_drops_padding_and_pools():
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal((2, 6, 2)), rng.standard_normal((2, 6, 2))
    pm = torch.zeros(2, 6, dtype=torch.bool)
    pm[1, 3:] = True
    s = Scorer.for_task("affect")
    s.update({"affect": torch.tensor(t)}, {"pred": torch.tensor(p), "padding_mask": pm})
    out = s.compute()
    v = ~pm.numpy()
    assert out["ccc_arousal"] == pytest.approx(M.ccc(p[..., 0], t[..., 0], v))
    assert out["ccc_valence"] == pytest.approx(M.ccc(p[..., 1], t[..., 1], v))


def test_sequence_scorer_is_corpus_wer():
    s = Scorer.for_task("vsr")
    s.update({"text": ["a b c d"]}, {"text": ["a b c d"]})
    s.update({"text": ["x y"]}, {"text": ["x"]})
    assert s.compute()["wer"] == pytest.approx(1 / 6)  # not the mean of per-batch WERs (0.25)
