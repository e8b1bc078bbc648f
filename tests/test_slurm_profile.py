"""The SLURM profile: a dry run with the slurm executor (no SLURM needed) requests the intended resources."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, env_with_venv, tool

PROFILE = REPO / "workflow" / "profiles" / "slurm"
GPU_RULES = {"pretrain", "finetune", "finetune_scratch"}
CPU_RULES = {"synthesize", "preprocess_part", "preprocess", "evaluate", "report"}


def _copy_tree(dst: Path) -> None:
    """The workflow files only (no data, results or MLflow store), so the dry run plans every job."""
    for name in ("Snakefile", "params.yaml"):
        shutil.copy2(REPO / name, dst / name)
    shutil.copytree(REPO / "workflow", dst / "workflow")
    (dst / "src").symlink_to(REPO / "src")
    for name in ("conda",):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, dst / name)


def parse_dry_run(text: str) -> dict[str, list[dict[str, str]]]:
    """rule name -> one dict of resources per planned job, from the `resources:` line under each `rule X:`."""
    jobs: dict[str, list[dict[str, str]]] = {}
    rule = None
    for line in text.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            rule = m.group(1)
            continue
        if rule and line.strip().startswith("resources:"):
            items = line.strip()[len("resources:"):].split(", ")
            jobs.setdefault(rule, []).append(dict(i.strip().split("=", 1) for i in items if "=" in i))
            rule = None
    return jobs


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm")
    _copy_tree(work)
    env = env_with_venv()
    env.update(AVSSL_SLURM_ACCOUNT="acct-test", AVSSL_SLURM_PARTITION="cpuq", AVSSL_SLURM_GPU_PARTITION="gpuq")
    env.pop("SLURM_JOB_ID", None)
    proc = subprocess.run([tool("snakemake"), "--profile", str(PROFILE), "-n", "--directory", str(work),
                           "--snakefile", str(work / "Snakefile")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = parse_dry_run(proc.stdout + proc.stderr)
    assert jobs, proc.stdout[-2000:]
    return jobs


def test_profile_is_plain_yaml_for_the_slurm_executor():
    cfg = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert cfg["executor"] == "slurm"
    assert cfg["rerun-incomplete"] is True and cfg["retries"] >= 1 and cfg["jobs"] >= 1
    assert set(cfg["set-resources"]) >= GPU_RULES | CPU_RULES
    for rule in GPU_RULES:
        res = cfg["set-resources"][rule]
        assert res["gpu"] >= 1 and res["cpus_per_gpu"] >= 1 and res["mem_mb"] > 0 and res["runtime"] > 0


def test_account_and_partitions_come_from_the_environment(dry_run):
    for rule, jobs in dry_run.items():
        for res in jobs:
            assert res["slurm_account"] == "acct-test", rule
            want = "gpuq" if rule in GPU_RULES else "cpuq"
            assert res["slurm_partition"] == want, (rule, res)


def test_gpu_rules_ask_for_gpus_and_cpus_per_gpu(dry_run):
    present = GPU_RULES & set(dry_run)
    assert "pretrain" in present
    for rule in present:
        for res in dry_run[rule]:
            assert int(res["gpu"]) >= 1 and int(res["cpus_per_gpu"]) >= 1, rule
            # cpus_per_task must be unset (0) or the plugin would prefer it over --cpus-per-gpu
            assert int(res.get("cpus_per_task", 0)) == 0, rule
            assert int(res["mem_mb"]) >= 16000 and int(res["runtime"]) >= 600


def test_cpu_rules_ask_for_no_gpu(dry_run):
    present = CPU_RULES & set(dry_run)
    assert {"synthesize", "preprocess_part", "preprocess"} <= present
    for rule in present:
        for res in dry_run[rule]:
            assert "gpu" not in res and int(res["cpus_per_task"]) >= 1 and int(res["runtime"]) > 0, rule
    assert int(dry_run["preprocess_part"][0]["cpus_per_task"]) == 16 and len(dry_run["preprocess_part"]) >= 2


def test_set_resources_for_unknown_rules_is_not_an_error(tmp_path):
    """Rules listed in the profile before the workflow defines them must not break a dry run."""
    profile = tmp_path / "profile"
    profile.mkdir()
    cfg = yaml.safe_load((PROFILE / "config.yaml").read_text())
    cfg["set-resources"]["rule_that_does_not_exist"] = {"mem_mb": 1, "gpu": 3}
    cfg["set-threads"]["rule_that_does_not_exist"] = 3
    (profile / "config.yaml").write_text(yaml.safe_dump(cfg))
    work = tmp_path / "work"
    work.mkdir()
    _copy_tree(work)
    env = {k: v for k, v in env_with_venv().items() if not k.startswith("AVSSL_SLURM_")}
    proc = subprocess.run([tool("snakemake"), "--profile", str(profile), "-n", "--directory", str(work),
                           "--snakefile", str(work / "Snakefile"), "synthesize"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = parse_dry_run(proc.stdout + proc.stderr)
    assert jobs["synthesize"][0]["slurm_account"] == ""  # unset variable -> no -A (cluster default)
