"""The light sqlite writer logs the same MLflow runs as the mlflow client, and stage jobs never import mlflow.

One run is logged both ways into one store and read back with the real ``MlflowClient``: params, tags,
latest metrics, every metric's history (steps, values, NaN/inf, one timestamp per call), artifacts (paths,
sizes, contents), run info (status, name, user, artifact folder) must agree; a failing stage is FAILED both ways.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from avssl.config import Params
from avssl.tracking import sqlite_run, start_stage
from tests.conftest import env_with_venv

PARAMS = Params.model_validate({"study": {"name": "unit", "seed": 3}})
TAGS = {"task": "emotion", "init": "raven", "mode": "frozen", "fraction": "0.5", "seed": 3}


def _body(run, folder: Path) -> None:
    """What stages do with a run: metrics per step and at the end, files, folders, dicts, figures, tags."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run.log_metrics({"train/loss": 2.5, "lr/all": 1e-3, "health/nan": float("nan")}, step=1)
    run.log_metrics({"train/loss": 1.25, "grad_norm/all": float("inf")}, step=2)
    run.log_metrics({"train/loss": 1.75}, step=2)  # same step again: the later value is the latest
    run.log_metrics({"test/accuracy": 0.5, "skipped": None})
    (folder / "table.csv").write_text("a,b\n1,2\n")
    (folder / "dir" / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "dir" / "x.json").write_text("{}")
    (folder / "dir" / "sub" / "y.txt").write_text("y")
    run.log_artifact(folder / "table.csv")
    run.log_artifact(folder / "table.csv", artifact_path="tables")
    run.log_artifact(folder / "dir", artifact_path="outputs")
    run.log_artifact(folder / "missing.txt")
    run.log_dict({"b": [1, 2], "a": {"c": "d"}}, "summary/result.json")
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    run.log_figure(fig, "figures/curve.png")
    plt.close(fig)
    run.set_tags({"n_clips": 12, "none": None})


def _artifacts(client, run_id: str, path: str | None = None) -> dict[str, int | None]:
    out = {}
    for f in client.list_artifacts(run_id, path):
        out.update(_artifacts(client, run_id, f.path) if f.is_dir else {f.path: f.file_size})
    return out


def _history(client, run_id: str, key: str) -> list[tuple[int, float, int]]:
    return [(m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, key)]


def _same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _log(store: Path, light: bool, monkeypatch) -> str:
    monkeypatch.setattr(sqlite_run, "usable", (lambda uri, sm: True) if light else (lambda uri, sm: False))
    with start_stage(PARAMS, "finetune", input_hash="h", tags=TAGS) as run:
        assert isinstance(run, sqlite_run.SqliteRun) == light
        _body(run, store)
        return run.run_id


def test_light_writer_logs_what_mlflow_logs(store, monkeypatch):
    from mlflow.tracking import MlflowClient

    by_mlflow = _log(store, False, monkeypatch)  # also creates the experiment
    light = _log(store, True, monkeypatch)
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    a, b = client.get_run(by_mlflow), client.get_run(light)
    for field in ("status", "run_name", "user_id", "experiment_id", "lifecycle_stage"):
        assert getattr(a.info, field) == getattr(b.info, field), field
    assert b.info.status == "FINISHED" and b.info.end_time >= b.info.start_time
    assert b.info.artifact_uri == a.info.artifact_uri.replace(by_mlflow, light)
    assert a.data.params == b.data.params and len(b.data.params) > 100
    assert a.data.tags == b.data.tags  # mlflow.* context tags included; same process, so even pid agrees
    assert "mlflow.source.name" in b.data.tags and b.data.tags["mlflow.runName"] == b.info.run_name
    assert a.data.metrics.keys() == b.data.metrics.keys()
    assert all(_same_value(a.data.metrics[k], b.data.metrics[k]) for k in a.data.metrics)
    assert b.data.metrics["train/loss"] == 1.75 and b.data.metrics["grad_norm/all"] == 1.7976931348623157e308
    for key in a.data.metrics:
        ha, hb = _history(client, by_mlflow, key), _history(client, light, key)
        assert [(s, v) for s, v, _ in ha] == [(s, v) for s, v, _ in hb] or all(
            sa == sb and _same_value(va, vb) for (sa, va, _), (sb, vb, _) in zip(ha, hb)), key
        assert len(ha) == len(hb)
        assert all(b.info.start_time <= t <= b.info.end_time for _, _, t in hb)
    # one timestamp per log_metrics call, non-decreasing from call to call
    loss = [t for _, _, t in _history(client, light, "train/loss")]
    assert loss == sorted(loss) and _history(client, light, "lr/all")[0][2] == loss[0]
    assert _artifacts(client, by_mlflow) == _artifacts(client, light)
    assert set(_artifacts(client, light)) == {
        "params.resolved.json", "table.csv", "tables/table.csv", "outputs/x.json", "outputs/sub/y.txt",
        "summary/result.json", "figures/curve.png"}
    for path in ("params.resolved.json", "summary/result.json", "outputs/sub/y.txt"):
        assert (Path(client.download_artifacts(by_mlflow, path, str(store / "a"))).read_bytes()
                == Path(client.download_artifacts(light, path, str(store / "b"))).read_bytes()), path
    assert json.loads((store / "b" / "params.resolved.json").read_text())["study"]["seed"] == 3


def test_failed_stage_is_failed_both_ways(store, monkeypatch):
    from mlflow.tracking import MlflowClient

    ids = []
    for light in (False, True):
        monkeypatch.setattr(sqlite_run, "usable", lambda uri, sm, light=light: light)
        with pytest.raises(RuntimeError):
            with start_stage(PARAMS, "evaluate", tags=TAGS) as run:
                ids.append(run.run_id)
                raise RuntimeError("boom")
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    assert [client.get_run(i).info.status for i in ids] == ["FAILED", "FAILED"]


def test_pinned_mlflow_creates_the_schema_the_writer_knows(tmp_path):
    """A new mlflow version changes the store schema: the writer then steps aside (and this test says so)."""
    from avssl.tracking.store import ensure_store

    ensure_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert sqlite_run.find_experiment(tmp_path / "mlflow.db", "Default") is not None, (
        f"the installed mlflow's store schema is not {sqlite_run.SCHEMA_VERSION}: check avssl.tracking.sqlite_run "
        "against it and update SCHEMA_VERSION")


def test_other_stores_and_settings_go_through_mlflow(monkeypatch):
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    assert sqlite_run.usable("sqlite:////tmp/x.db", False)
    assert not sqlite_run.usable("sqlite:////tmp/x.db", True)  # system metrics need mlflow's sampler
    assert not sqlite_run.usable("http://mlflow.example:5000", False)
    monkeypatch.setenv("MLFLOW_RUN_ID", "abc")
    assert not sqlite_run.usable("sqlite:////tmp/x.db", False)


STAGE_JOB = """
import sys
from avssl.config import Params
from avssl.tracking import start_stage
from avssl.tracking.run import startup_seconds
with start_stage(Params.model_validate({"study": {"name": "unit"}}), "synthesize") as run:
    run.log_metrics({"clips": 3.0})
    print(type(run).__name__, "mlflow" in sys.modules, "torch" in sys.modules, 0 < startup_seconds() < 120)
"""


def test_a_stage_job_does_not_import_mlflow(tmp_path):
    env = {k: v for k, v in env_with_venv().items() if not k.startswith("MLFLOW_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # the torch facts cache the first job writes
    first = subprocess.run([sys.executable, "-c", STAGE_JOB], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    again = subprocess.run([sys.executable, "-c", STAGE_JOB], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    # the first job of a study creates the store and its experiment with mlflow; every later one writes directly
    # (start-up: process creation to the run's opening, what `avssl <stage>` prints and bench_workflow.py reads)
    assert again.stdout.split() == ["SqliteRun", "False", "False", "True"]


def test_light_writer_closes_the_runs_of_killed_jobs(store, monkeypatch):
    """A job killed mid-run leaves it RUNNING; its re-run (written directly too) marks it KILLED with the reason."""
    import platform

    from mlflow.tracking import MlflowClient

    monkeypatch.setattr(sqlite_run, "usable", lambda uri, sm: True)
    with start_stage(PARAMS, "evaluate", tags=TAGS) as first:  # the study's first run: mlflow creates the experiment
        pass
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    job = client.get_run(first.run_id).data.tags["job"]
    experiment_id, location = sqlite_run.find_experiment(store / "mlflow.db", "avssl/unit")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = sqlite_run.SqliteRun(store / "mlflow.db", experiment_id, location, "orphan")
    orphan.set_tags({"job": job, "pid": dead.stdout.strip(), "host": platform.node()})  # never ended: "killed"
    with start_stage(PARAMS, "evaluate", tags=TAGS) as again:
        assert isinstance(again, sqlite_run.SqliteRun)
    closed = client.get_run(orphan.run_id)
    assert closed.info.status == "KILLED" and "no longer exists" in closed.data.tags["killed_reason"]
    assert client.get_run(again.run_id).info.status == "FINISHED"


@pytest.mark.parametrize("where", ["checkout", "outside", "remote"])
def test_context_tags_are_mlflows(tmp_path, monkeypatch, where):
    """mlflow.user / mlflow.source.* / mlflow.source.git.* exactly as MLflow's run-context providers set them."""
    from mlflow.tracking.context.registry import _run_context_provider_registry, resolve_tags

    from tests.conftest import REPO

    main = REPO / "src" / "avssl" / "__main__.py"
    if where != "checkout":
        main = tmp_path / "main.py"
        main.write_text("")
    if where == "remote":
        for cmd in (["init", "-q"], ["remote", "add", "origin", "https://user:secret@example.com/lab/avssl.git"],
                    ["add", "main.py"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
            subprocess.run(["git", *cmd], cwd=tmp_path, check=True, capture_output=True)
    monkeypatch.setattr(sys, "argv", [str(main)])
    for provider in _run_context_provider_registry:  # mlflow computes the git facts once per process
        getattr(provider, "_cache", {}).clear()
    ours = sqlite_run.context_tags()
    assert ours == resolve_tags({})
    assert ("mlflow.source.git.commit" in ours) == (where != "outside")
    if where == "remote":
        assert ours["mlflow.source.git.repoURL"] == "https://example.com/lab/avssl.git"
