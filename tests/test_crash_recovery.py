"""Crash recovery exactly as README's "After a crash" types it.

A copy of the finished tiny DAG (the session's `tiny_dag` run) loses one pre-training method's outputs, so
`snakemake --cores 2 --directory .test` has real work again: that pre-training job, the jobs downstream of it and
the report. It runs in its own process group; once the pre-training job has written a checkpoint the whole group
is SIGKILLed (what the OOM killer or a lost terminal does), which leaves Snakemake's lock and incomplete jobs
behind. Then the README's recovery lines run verbatim, and the DAG must complete: every output exists and
`snakemake -n` has nothing to do. (Starting from the finished run instead of from nothing keeps this to about a
minute: the recovery path is the same whether 5 jobs or 30 are left.)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_repo, env_with_venv, tool

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def readme_block(heading: str) -> list[str]:
    """The command lines (comments stripped) of the first ```bash block under a README heading."""
    text = (REPO / "README.md").read_text()
    section = text.split(heading, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def _wait_for(predicate, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        assert proc.poll() is None, f"snakemake ended (rc {proc.returncode}) before the moment to kill it"
        time.sleep(2)
    raise AssertionError("the moment to kill it did not come within the time limit")


def _checkpoints(work: Path) -> list[Path]:
    return [p for p in (work / "results" / "pretrain").glob("*/checkpoints/*") if p.is_file()]


def test_readme_recovery_completes_a_killed_run(tiny_dag, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(tiny_dag.parent, root, symlinks=True)
    work = root / ".test"
    shutil.rmtree(work / "results" / "pretrain" / "shukla_visual")  # its job, its downstream and the report re-run
    env = env_with_venv()
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = str(root / "src")
    out = open(tmp_path / "killed-run.log", "w")
    proc = subprocess.Popen([tool("snakemake"), "--cores", "2", "--directory", ".test"], cwd=root, env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(lambda: _checkpoints(work), proc, timeout=1800)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        out.close()
    killed = sorted({p.parent.parent.name for p in _checkpoints(work)})
    assert killed and list((work / ".snakemake" / "locks").iterdir()), "the kill should leave a lock behind"

    lines = readme_block("### After a crash")
    assert lines == ["snakemake --unlock --directory .test", "snakemake --cores 2 --directory .test"], lines
    for line in lines:
        done = subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True, text=True)
        (tmp_path / "recovery.log").open("a").write(f"$ {line}\n{done.stdout}{done.stderr}\n")
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"

    for method in killed:
        assert (work / "results" / "pretrain" / method / "model.safetensors").is_file()
    assert (work / "results" / "summary.json").is_file()
    check = subprocess.run([tool("snakemake"), "-n", "--cores", "2", "--directory", ".test"], cwd=root, env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0 and "Nothing to be done" in check.stdout + check.stderr, check.stdout[-2000:]


@pytest.mark.slow
def test_a_job_killed_with_partial_outputs_is_rerun_not_refused(tmp_path):
    """A SIGKILL while `synthesize` writes data/synth leaves an incomplete output: without the workflow profile
    Snakemake refuses to go on (IncompleteFilesException); with profiles/default (rerun-incomplete) the README's
    lines plan it again."""
    root = copy_repo(tmp_path / "repo")
    work = root / ".test"
    env = env_with_venv()
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = str(root / "src")
    proc = subprocess.Popen([tool("snakemake"), "--cores", "2", "--directory", ".test", "synthesize"], cwd=root,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(lambda: any((work / "data" / "synth").glob("*.wav")), proc, timeout=600)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    unlock, rerun = readme_block("### After a crash")
    assert subprocess.run(["bash", "-c", unlock], cwd=root, env=env, capture_output=True).returncode == 0
    bare = subprocess.run(["bash", "-c", rerun + " -n --workflow-profile none"], cwd=root, env=env,
                          capture_output=True, text=True)
    assert bare.returncode != 0 and "IncompleteFilesException" in bare.stdout + bare.stderr
    planned = subprocess.run(["bash", "-c", rerun + " -n"], cwd=root, env=env, capture_output=True, text=True)
    assert planned.returncode == 0, planned.stderr[-2000:]
    # --rerun-incomplete plans the killed job again (Snakemake words it "Forced execution")
    assert re.search(r"rule synthesize:\n(?:.*\n){0,6}\s+reason: Forced execution", planned.stdout), planned.stdout[-3000:]
