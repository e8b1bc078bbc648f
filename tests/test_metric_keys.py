"""The evaluation's MLflow key names, read back by the report and by `avssl reproduce` through one module."""

from __future__ import annotations

import pytest

from avssl.report.runs import RunRecord
from avssl.report.values import clip_interval, metric_value
from avssl.tracking.metric_keys import ci95_key, metric_key
from avssl.tracking.reproduce import compare


def test_report_and_reproduce_read_the_interval_under_the_documented_names(capsys):
    key = metric_key("accuracy", "clean")
    logged = {key: 0.5, ci95_key(key, "low"): 0.4, ci95_key(key, "high"): 0.6}
    # the names README and the MLflow UI show
    assert set(logged) == {"accuracy.clean", "ci95_low/accuracy.clean", "ci95_high/accuracy.clean"}
    run = RunRecord("r", {}, logged)
    assert metric_value(run, "accuracy", "clean") == 0.5
    assert clip_interval(run, "accuracy", "clean") == (0.4, 0.6)
    assert clip_interval(run, "accuracy", "babble_0") is None
    assert compare(logged, {key: 0.55}, "a", "b")["case"] == "within CI"  # the bounds are not compared as metrics
    capsys.readouterr()


def test_an_interval_end_is_low_or_high():
    with pytest.raises(ValueError, match="'low' or 'high'"):
        ci95_key("accuracy.clean", "mid")
