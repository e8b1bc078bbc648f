"""Per-run 95 % intervals over test clips, and `avssl reproduce`'s three cases (identical / within CI / outside)."""

from __future__ import annotations

import numpy as np
import pytest

from avssl.tasks.evaluate import recompute_metrics
from avssl.tasks.uncertainty import clip_bootstrap
from avssl.tracking.reproduce import compare, numerics_differences


def _classification_rows(n: int, correct_every: int, condition: str = "clean") -> list[dict]:
    classes = ["angry", "happy", "sad"]
    rows = []
    for i in range(n):
        ref = classes[i % 3]
        pred = ref if i % correct_every == 0 else classes[(i + 1) % 3]
        rows.append({"clip_id": f"c{i}", "condition": condition, "decoder": "argmax", "reference": ref,
                     "prediction": pred})  # fmt: skip
    return rows


def test_accuracy_interval_holds_the_estimate_is_deterministic_and_narrows_with_more_clips():
    small, large = _classification_rows(40, 2), _classification_rows(400, 2)
    ci_small = clip_bootstrap(small, "emotion")["clean"]
    point = recompute_metrics(small, "emotion")["clean"]
    for metric in ("accuracy", "uar"):
        lo, hi = ci_small[metric]
        assert lo < point[metric] < hi, metric
    assert clip_bootstrap(small, "emotion") == clip_bootstrap(small, "emotion")
    lo_l, hi_l = clip_bootstrap(large, "emotion")["clean"]["accuracy"]
    assert hi_l - lo_l < 0.5 * (ci_small["accuracy"][1] - ci_small["accuracy"][0])
    # binomial sanity: 40 clips at p = 0.5 -> a 95 % interval about +-0.155 wide
    assert 0.2 < ci_small["accuracy"][1] - ci_small["accuracy"][0] < 0.4


def test_affect_interval_comes_from_clip_moments_and_brackets_the_pooled_ccc():
    rng = np.random.default_rng(0)
    rows = []
    for c in range(30):
        for t in range(rng.integers(5, 15)):
            a, v = rng.uniform(-1, 1, 2)
            pa, pv = a + rng.normal(0, 0.3), 0.2 * v + rng.normal(0, 0.5)
            rows.append({"clip_id": f"c{c}", "condition": "clean", "decoder": f"frame{t}",
                         "reference": f"{a:.5f} {v:.5f}", "prediction": f"{pa:.5f} {pv:.5f}"})  # fmt: skip
    point = recompute_metrics(rows, "affect")["clean"]
    ci = clip_bootstrap(rows, "affect")["clean"]
    from avssl.tasks.uncertainty import clip_stats, from_sums

    for metric in ("ccc_arousal", "ccc_valence"):
        total = np.sum(list(clip_stats(rows, metric).values()), axis=0)
        assert from_sums(metric, total) == pytest.approx(point[metric], abs=1e-9), metric
    for metric in ("ccc_arousal", "ccc_valence"):
        assert ci[metric][0] < point[metric] < ci[metric][1], metric
    assert ci["ccc_arousal"][0] > ci["ccc_valence"][1]  # arousal is predicted far better here


def test_wer_interval_weighs_clips_by_reference_length():
    rows = []
    for i in range(20):
        ref = "the cat sat on the mat today" if i % 2 else "yes"
        hyp = ref if i % 4 else "no"
        for decoder in ("beam", "greedy_ctc"):
            rows.append({"clip_id": f"c{i}", "condition": "clean", "decoder": decoder, "reference": ref,
                         "prediction": hyp})  # fmt: skip
    point = recompute_metrics(rows, "asr")["clean"]
    ci = clip_bootstrap(rows, "asr")["clean"]
    from avssl.tasks.uncertainty import clip_stats, from_sums

    for metric in ("wer", "cer", "wer_greedy_ctc"):
        total = np.sum(list(clip_stats([r for r in rows if r["condition"] == "clean"], metric).values()), axis=0)
        assert from_sums(metric, total) == pytest.approx(point[metric], abs=1e-12), metric
    assert set(ci) == {"wer", "cer", "wer_greedy_ctc"}
    for metric in ci:
        assert ci[metric][0] <= point[metric] <= ci[metric][1], metric


def test_reproduce_says_identical_within_ci_or_outside(capsys):
    recorded = {"accuracy.clean": 0.5, "ci95_low/accuracy.clean": 0.4, "ci95_high/accuracy.clean": 0.6,
                "perf/seconds": 3.0}  # fmt: skip
    assert compare(recorded, {**recorded, "perf/seconds": 9.0}, "a", "b")["case"] == "identical"
    within = compare(recorded, {"accuracy.clean": 0.55}, "a", "b")
    assert within["case"] == "within CI" and not within["identical"]
    assert compare(recorded, {"accuracy.clean": 0.65}, "a", "b")["case"] == "outside CI"
    # a metric that differs and has no recorded interval cannot be called "within"
    assert compare({"wer.clean": 0.5}, {"wer.clean": 0.51}, "a", "b")["case"] == "outside CI"
    assert "outside CI" in capsys.readouterr().out


def test_numerics_differences_name_what_changed():
    here = {"cpu_isa": "avx,avx2", "torch": "2.11.0", "onednn": "3.10.2"}
    assert numerics_differences(here, dict(here)) == []
    assert numerics_differences({**here, "cpu_isa": "avx,avx2,avx512f"}, here) == ["cpu_isa: avx,avx2,avx512f -> avx,avx2"]


@pytest.mark.parametrize("task", ["emotion", "words_audio"])
def test_each_condition_gets_its_own_interval(task):
    rows = _classification_rows(30, 2, "clean") + _classification_rows(30, 3, "babble_0")
    ci = clip_bootstrap(rows, task)
    assert set(ci) == {"clean", "babble_0"} and ci["clean"]["accuracy"] != ci["babble_0"]["accuracy"]


def test_clip_statistics_reproduce_the_metrics_exactly():
    """Summing every clip's statistics must give the metric recompute_metrics computes (no approximation)."""
    import numpy as np

    from avssl.tasks.uncertainty import clip_stats, from_sums

    rows = _classification_rows(37, 3)
    point = recompute_metrics(rows, "emotion")["clean"]
    for metric in ("accuracy", "uar"):
        total = np.sum(list(clip_stats(rows, metric).values()), axis=0)
        assert from_sums(metric, total) == pytest.approx(point[metric], abs=1e-12), metric


def test_paired_difference_cancels_clip_difficulty_and_averages_seeds():
    from avssl.tasks.uncertainty import paired_difference

    def runs(correct_every, n=60):
        return [_classification_rows(n, correct_every)]

    better, worse = runs(1), runs(3)  # 100 % vs 33.3 % on the same clips
    d = paired_difference(better, worse, "accuracy")
    assert d["difference"] == pytest.approx(1 - 20 / 60) and d["low"] > 0.5 and d["n_clips"] == 60
    same = paired_difference(worse, worse, "accuracy")
    assert same["difference"] == 0 and same["low"] == same["high"] == 0  # identical runs: no spread at all
    # two seeds on side A: their mean is compared
    two = paired_difference(better + worse, worse, "accuracy")
    assert two["n_a"] == 2 and two["difference"] == pytest.approx((1 - 20 / 60) / 2)
    assert paired_difference(better, [[]], "accuracy") is None
