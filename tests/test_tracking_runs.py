"""MLflow runs that compare, travel and never stay RUNNING after their process died (issues 12.4, 13.4)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avssl.config import Params
from avssl.tracking import start_stage
from tests.conftest import REPO, env_with_venv

PARAMS = Params.model_validate({"study": {"name": "unit"}})


def _client(folder: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")


def _job(task, init, mode, fraction=1.0, seed=0):
    """The tags `avssl finetune/evaluate` give a job."""
    from argparse import Namespace

    from avssl.cli import _job_tags

    return _job_tags(Namespace(task=task, init=init, mode=mode, fraction=fraction, seed=seed))


# (stage, tags) of a small study: two pre-training methods, two emotion baselines, three evaluations.
STUDY = [
    ("pretrain", {"method": "raven"}),
    ("pretrain", {"method": "shukla_audio"}),
    ("finetune", _job("emotion", "scratch", "finetuned")),
    ("finetune", _job("emotion", "raven", "frozen")),
    ("evaluate", _job("emotion", "shukla_audio", "frozen")),
    ("evaluate", _job("emotion", "shukla_audio", "finetuned")),
    ("evaluate", _job("asr", "raven", "frozen", fraction=0.1)),
]


@pytest.fixture(scope="module")
def study_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.chdir(folder)
    names = []
    try:
        for stage, tags in STUDY:
            with start_stage(PARAMS, stage, tags=tags) as run:
                names.append((run.run_id, stage, tags))
    finally:
        mp.undo()
    client = _client(folder)
    exp = client.get_experiment_by_name("avssl/unit").experiment_id
    return client, exp, {rid: client.get_run(rid) for rid, _, _ in names}


def test_job_settings_are_params_so_compare_shows_the_difference(study_store):
    _, _, runs = study_store
    frozen, finetuned = [r for r in runs.values() if r.data.tags["stage"] == "evaluate"
                         and r.data.tags["task"] == "emotion"]
    diff = {k for k in set(frozen.data.params) | set(finetuned.data.params)
            if frozen.data.params.get(k) != finetuned.data.params.get(k)}
    assert diff == {"job.mode"}, diff
    p = frozen.data.params
    assert {p["job.stage"], p["job.task"], p["job.init"], p["job.fraction"], p["job.seed"]} == {
        "evaluate", "emotion", "shukla_audio", "1", "0"}


def test_run_names_are_readable_and_unique(study_store):
    _, _, runs = study_store
    names = sorted(r.info.run_name for r in runs.values())
    assert len(set(names)) == len(names), names
    assert "evaluate-asr-raven-frozen-f0.1-s0" in names and "pretrain-raven-s0" in names


def _readme_searches() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Comparing runs in the MLflow UI", 1)[1].split("\n### ", 1)[0]
    spans = re.findall(r"``(.+?)``|`([^`]+)`", section)  # ``…`` holds a search with backticked names
    return [a or b for a, b in spans if re.search(r"^(tags|params|attributes|metrics)\..* (=|!=|LIKE|ILIKE|<|>) ", a or b)]


# Every search the README shows, and the runs (stage, task/method, init, mode) it must return in the study above.
EXPECTED = {
    "tags.stage = 'evaluate' and tags.task = 'emotion'": {
        "evaluate-emotion-shukla_audio-frozen-f1-s0", "evaluate-emotion-shukla_audio-finetuned-f1-s0"},
    "params.`job.method` = 'raven' and params.`job.stage` = 'pretrain'": {"pretrain-raven-s0"},
    "params.`job.init` = 'raven'": {"finetune-emotion-raven-frozen-f1-s0", "evaluate-asr-raven-frozen-f0.1-s0"},
    "params.`job.stage` = 'finetune' and params.`job.init` = 'scratch'": {"finetune-emotion-scratch-finetuned-f1-s0"},
    "params.`job.fraction` = '0.1'": {"evaluate-asr-raven-frozen-f0.1-s0"},
    "attributes.run_name LIKE 'evaluate-emotion-%'": {
        "evaluate-emotion-shukla_audio-frozen-f1-s0", "evaluate-emotion-shukla_audio-finetuned-f1-s0"},
}
KILLED_SEARCH = "attributes.status = 'KILLED'"


def test_every_readme_search_returns_what_the_readme_says(study_store):
    client, exp, _ = study_store
    searches = _readme_searches()
    assert set(searches) == set(EXPECTED) | {KILLED_SEARCH}, "README searches and this test's expectations differ"
    for search, expected in EXPECTED.items():
        found = {r.info.run_name for r in client.search_runs([exp], search)}
        assert found == expected, (search, found)


ONE_RUN = """
from pathlib import Path
from avssl.config import Params
from avssl.tracking import start_stage
Path("note.txt").write_text("hello")
with start_stage(Params.model_validate({"study": {"name": "unit"}}), "synthesize") as run:
    run.log_artifact("note.txt")
    print(run.run_id)
"""


@pytest.mark.slow
def test_a_moved_or_copied_store_keeps_its_artifacts(tmp_path, monkeypatch):
    from avssl.report.runs import open_client

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    original = tmp_path / "a"
    original.mkdir()
    # Made by another process, as a finished study is: this one never had the store open before it moved.
    done = subprocess.run([sys.executable, "-c", ONE_RUN], cwd=original, env=env_with_venv(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    run_id = done.stdout.split()[-1]
    monkeypatch.chdir(tmp_path)
    moved = tmp_path / "elsewhere" / "b"
    moved.parent.mkdir()
    copy = tmp_path / "c with space"
    shutil.copytree(original, copy)
    (copy / "mlflow.db.ready").unlink()  # copied without the marker: found out from the locations themselves
    shutil.move(original, moved)
    for folder in (moved, copy):
        client = open_client(f"sqlite:///{folder / 'mlflow.db'}")
        run = client.get_run(run_id)
        assert run.info.artifact_uri.startswith((folder / "mlartifacts").as_uri() + "/"), run.info.artifact_uri
        got = client.download_artifacts(run_id, "note.txt", str(tmp_path))
        assert Path(got).read_text() == "hello"
    # A new run in the moved store lands in its own mlartifacts/.
    monkeypatch.chdir(moved)
    with start_stage(PARAMS, "synthesize") as run:
        run.log_artifact(moved / "note.txt")
        new_id = run.run_id
    assert _client(moved).get_run(new_id).info.artifact_uri.startswith((moved / "mlartifacts").as_uri())
    assert (moved / "mlartifacts" / new_id / "artifacts" / "note.txt").is_file()
    assert not original.exists()


def test_relocation_is_one_file_read_when_the_store_did_not_move(tmp_path, monkeypatch):
    from avssl.tracking import store

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    with start_stage(PARAMS, "synthesize"):
        pass
    calls = []
    monkeypatch.setattr(store, "relocate", lambda db: calls.append(db) or 0)
    store.ensure_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert calls == []
    (tmp_path / "mlflow.db.ready").write_text("")  # a store from before the marker held its folder
    store.ensure_store(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert calls == [tmp_path / "mlflow.db"]


KILL_ITSELF = """
import os, signal
from avssl.config import Params
from avssl.tracking import start_stage
with start_stage(Params.model_validate({"study": {"name": "unit"}}), "evaluate", tags=%r) as run:
    print(run.run_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_a_rerun_closes_the_runs_its_killed_predecessors_left_running(tmp_path, monkeypatch):
    import platform

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    tags = _job("emotion", "raven", "frozen")
    done = subprocess.run([sys.executable, "-c", KILL_ITSELF % (tags,)], cwd=tmp_path, env=env_with_venv(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr[-2000:]
    killed = done.stdout.split()[0]
    client = _client(tmp_path)
    assert client.get_run(killed).info.status == "RUNNING"
    job = client.get_run(killed).data.tags["job"]
    exp = client.get_run(killed).info.experiment_id
    # Two more RUNNING runs of the same job: one on another node, one whose process (our parent) is alive.
    other = client.create_run(exp, tags={"job": job, "host": "node-17", "pid": "4242"}).info.run_id
    alive = client.create_run(exp, tags={"job": job, "host": platform.node(), "pid": str(__import__("os").getppid())})
    unrelated = client.create_run(exp, tags={"job": job + "x", "host": platform.node(), "pid": "999999999"})
    monkeypatch.setattr(sys, "argv", ["-c"])  # the same command line as the killed job
    with start_stage(PARAMS, "evaluate", tags=tags) as run:
        rerun = run.run_id
    assert client.get_run(rerun).info.status == "FINISHED"
    for run_id in (killed, other):
        run = client.get_run(run_id)
        assert run.info.status == "KILLED" and run.info.end_time, run_id
        assert "re-run" in run.data.tags["killed_reason"]
    assert "no longer exists" in client.get_run(killed).data.tags["killed_reason"]
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"
    assert client.get_run(unrelated.info.run_id).info.status == "RUNNING"
    assert {r.info.run_id for r in client.search_runs([exp], KILLED_SEARCH)} == {killed, other}


def test_stale_runs_are_found_whatever_quotes_the_job_path_holds(tmp_path):
    from avssl.tracking.stale import close_stale_runs

    client = _client(tmp_path)
    exp = client.create_experiment("quotes")
    for job in ("plain@/data:out", "it's@/data:out", "say \"it's\"@/data:out"):
        dead = client.create_run(exp, tags={"job": job, "host": "gone-node", "pid": "1"}).info.run_id
        other = client.create_run(exp, tags={"job": job + "/x", "host": "gone-node", "pid": "1"}).info.run_id
        assert close_stale_runs(client, exp, job) == [dead], job
        assert client.get_run(other).info.status == "RUNNING"
