"""Every stage run lands in MLflow with the provenance needed to trace and re-run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from avssl.config import Params
from avssl.tracking import NullRun, start_stage
from avssl.tracking.provenance import fingerprint_dir, flatten
from tests.conftest import env_with_venv


def test_flatten_nests_with_dots():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == {"a.b": 1, "a.c.d": [1, 2], "e": "x"}


def test_fingerprint_changes_with_the_data(tmp_path):
    (tmp_path / "metadata.csv").write_text("clip_id\na\n")
    (tmp_path / "a.wav").write_bytes(b"0" * 10)
    first = fingerprint_dir(tmp_path)
    assert fingerprint_dir(tmp_path) == first
    (tmp_path / "a.wav").write_bytes(b"0" * 11)
    assert fingerprint_dir(tmp_path) != first


def test_disabled_tracking_yields_a_null_run():
    with start_stage(Params(), "synthesize", enabled=False) as run:
        assert isinstance(run, NullRun)
        run.log_metrics({"x": 1.0})


def test_stage_run_records_params_tags_metrics_and_artifacts(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    params = Params.model_validate({"study": {"name": "unit", "seed": 7}})
    art = tmp_path / "note.txt"
    art.write_text("hello")
    with start_stage(params, "preprocess", input_hash="abc123", tags={"method": "raven"}) as run:
        run.log_metrics({"frames_per_second": 300.0})
        run.log_artifact(art)
        run_id = run.run_id
    import mlflow

    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    r = client.get_run(run_id)
    assert r.info.status == "FINISHED"
    tags = r.data.tags
    for key in ("stage", "dataset", "seed", "input_hash", "git_commit", "git_dirty", "torch", "host", "command"):
        assert key in tags, key
    assert tags["stage"] == "preprocess" and tags["input_hash"] == "abc123" and tags["seed"] == "7"
    assert tags["method"] == "raven"
    # what decides the last bits across machines (README: reproduction guarantee)
    for key in ("cpu_model", "cpu_isa", "torch_cpu_capability", "mkl", "onednn", "torch_threads"):
        assert tags.get(key), key
    assert r.data.params["study.seed"] == "7" and "preprocess.crop_size" in r.data.params
    assert r.data.metrics["frames_per_second"] == 300.0
    exp = client.get_experiment(r.info.experiment_id)
    assert exp.name == "avssl/unit"
    assert Path(exp.artifact_location.removeprefix("file://")).parent == tmp_path
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"note.txt", "params.resolved.json"} <= names


def test_failed_stage_marks_the_run_failed(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    run_id = None
    try:
        with start_stage(Params(), "synthesize") as run:
            run_id = run.run_id
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    import mlflow

    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.get_run(run_id).info.status == "FAILED"


def test_concurrent_jobs_on_a_fresh_store_do_not_crash(tmp_path):
    code = (
        "from avssl.config import Params\n"
        "from avssl.tracking import start_stage\n"
        "with start_stage(Params(), 'synthesize') as run:\n"
        "    run.log_metrics({'x': 1.0})\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env_with_venv(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert all(rc == 0 for _, _, rc in results), [err[-2000:] for _, err, _ in results]
