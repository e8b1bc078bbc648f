"""`dvc repro` runs the same DAG as Snakemake (same metrics), is a no-op when nothing changed, and both tools
re-run only the jobs a changed fine-tuning parameter affects."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_repo, env_for_copy, inject_broken_clips, tool

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _scratch_job() -> dict:
    """The first tiny job that needs no pre-training (so the DVC run stays short)."""
    from avssl.config import load_params
    from avssl.stages import finetune_jobs

    params = load_params([Path(__file__).resolve().parents[1] / ".test/params.yaml"]).model_dump(mode="json")
    return next(j for j in finetune_jobs(params) if j["init"] in ("scratch", "random"))


_J = _scratch_job()
JOB = "-".join(str(_J[k]) for k in ("task", "init", "mode", "fraction", "seed"))
REL = f"{_J['task']}/{_J['init']}-{_J['mode']}/f{_J['fraction']}-s{_J['seed']}"
TASK_FIELD = _J["field"]


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([tool("dvc"), *args], cwd=root, env=env_for_copy(root), capture_output=True, text=True)
    assert out.returncode == 0, f"dvc {' '.join(args)}:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def dvc_copy(tmp_path_factory, tiny_dag) -> Path:
    """The tiny preset as params.yaml of a fresh copy; dvc repro of one evaluation (and what it needs)."""
    root = copy_repo(tmp_path_factory.mktemp("dvc") / "repo")
    shutil.copy(root / ".test/params.yaml", root / "params.yaml")
    subprocess.run([tool("python"), "-m", "avssl", "dvc-yaml", "--output", "dvc.yaml"], cwd=root, env=env_for_copy(root),
                   check=True)  # fmt: skip
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "tiny"], cwd=root, check=True)
    _dvc(root, "repro", "synthesize")
    _dvc(root, "unprotect", "data/synth")  # its files are read-only hard links of the cache (.dvc/config)
    inject_broken_clips(root / "data/synth")  # the same bad input as the Snakemake run
    _dvc(root, "commit", "--force", "synthesize")
    _dvc(root, "repro", f"evaluate@{JOB}")
    return root


def test_dvc_yields_the_same_metrics_as_snakemake(dvc_copy, tiny_dag):
    """Same metrics and weights, whether a job ran in a fork server's child (Snakemake) or a plain process (DVC)."""
    ours = json.loads((dvc_copy / "results/evaluate" / REL / "metrics.json").read_text())
    theirs = json.loads((tiny_dag / "results/evaluate" / REL / "metrics.json").read_text())
    assert ours == theirs
    weights = f"results/finetune/{REL}/model.safetensors"
    assert (dvc_copy / weights).read_bytes() == (tiny_dag / weights).read_bytes()
    # Snakemake's jobs ran in forked children (all but the first of each environment and any that started while
    # its server was still importing), DVC's as plain processes.
    ends = [line for log in (tiny_dag / "logs").rglob("*.log") for line in log.read_text().splitlines()
            if " done in " in line and "start-up" in line]  # fmt: skip
    assert sum("forked)" in line for line in ends) >= len(ends) // 2, ends


def test_second_dvc_repro_does_nothing(dvc_copy):
    out = _dvc(dvc_copy, "repro", f"evaluate@{JOB}")
    assert "Running stage" not in out.stdout, out.stdout


def _set(params_file: Path, dotted: str, value) -> None:
    """Set one value in a params file (a value different from the preset's, checked)."""
    data = yaml.safe_load(params_file.read_text())
    node = data
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node[key]
    assert node[leaf] != value, f"{dotted} is already {value}: pick another test value"
    node[leaf] = value
    params_file.write_text(yaml.safe_dump(data, sort_keys=False))


def test_changing_a_finetuning_param_reruns_only_affected_dvc_stages(dvc_copy):
    params = dvc_copy / "params.yaml"
    before = params.read_text()
    try:
        _set(params, f"finetune.{TASK_FIELD}.epochs", 7)
        out = _dvc(dvc_copy, "repro", "--dry", f"evaluate@{JOB}").stdout
    finally:
        params.write_text(before)
    running = [line for line in out.splitlines() if line.startswith("Running stage")]
    assert any(f"finetune_scratch@{JOB}" in line for line in running), out
    assert not any(s in line for line in running for s in ("'synthesize'", "'preprocess'", "pretrain@")), out


def test_changing_a_finetuning_param_reruns_only_affected_snakemake_jobs(tiny_dag):
    params = tiny_dag / "params.yaml"
    before = params.read_text()
    try:
        _set(params, "finetune.emotion.epochs", 7)
        out = subprocess.run([tool("snakemake"), "--cores", "2", "--directory", ".test", "--dry-run", "--quiet",
                              "rules"], cwd=tiny_dag.parent, env=env_for_copy(tiny_dag.parent), capture_output=True,
                             text=True)  # fmt: skip
    finally:
        params.write_text(before)
    assert out.returncode == 0, out.stderr
    table = out.stdout + out.stderr
    counts = {}
    for line in table.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    from avssl.config import load_params
    from avssl.stages import finetune_jobs

    jobs = finetune_jobs(load_params([params]).model_dump(mode="json"))
    emotion = [j for j in jobs if j["field"] == "emotion"]
    finetuned = sum(counts.get(r, 0) for r in ("finetune", "finetune_scratch", "finetune_frozen"))
    assert finetuned == len(emotion), table
    assert counts.get("evaluate", 0) + counts.get("evaluate_frozen", 0) == len(emotion), table
    assert counts.get("report") == 1, table
    assert not {"synthesize", "preprocess", "pretrain", "features"} & set(counts), table
