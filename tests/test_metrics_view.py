"""`avssl metrics`: DVC's metrics files grouped per stage (per task for finetune/evaluate), within the width."""

from __future__ import annotations

import json
from pathlib import Path

from avssl.config import load_params
from avssl.metrics_view import render
from avssl.stages import finetune_jobs

REPO = Path(__file__).resolve().parents[1]


def test_one_table_per_stage_and_task_wrapped_to_the_width(tmp_path):
    params = load_params([REPO / ".test/params.yaml"]).model_dump(mode="json")
    (tmp_path / "results/metrics").mkdir(parents=True)
    (tmp_path / "results/metrics/synthesize.json").write_text(json.dumps({"n_clips": 288, "seconds": 6.1234567}))
    jobs = [j for j in finetune_jobs(params) if j["task"] in ("emotion", "asr")]
    for j in jobs:
        d = tmp_path / f"results/evaluate/{j['task']}/{j['init']}-{j['mode']}/f{j['fraction']}-s{j['seed']}"
        d.mkdir(parents=True)
        metric = "wer" if j["task"] == "asr" else "accuracy"
        conds = {c: {metric: 0.5, "n": 48} for c in ("clean", "babble_0", "babble_10", "white_0", "white_10")}
        (d / "metrics.json").write_text(json.dumps({"task": j["task"], "conditions": conds}))
    text = render(params, tmp_path, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    titles = [line for line in text.splitlines() if line.startswith("== ")]
    assert titles[0] == "== synthesize: synthesize"
    emotion = [j for j in jobs if j["task"] == "emotion"]
    assert f"== evaluate (emotion): {len(emotion)} files" in titles and any("evaluate (asr)" in t for t in titles)
    assert "n_clips  288" in text and "seconds  6.123" in text
    assert "clean.accuracy" in text and "conditions." not in text and "clean.wer" in text
    row = f"{emotion[0]['init']}-{emotion[0]['mode']}-{emotion[0]['fraction']}-{emotion[0]['seed']}"
    assert any(line.startswith(row + " ") for line in text.splitlines())
    assert "== synthesize" not in render(params, tmp_path, stage="evaluate", width=80)
