"""The SLURM profile: a dry run with the slurm executor (no SLURM needed) asks for what the preset needs.

Resources come from params `resources` (so the tiny preset asks for 1-2 CPUs, not 16), every job is told the
CPUs it asked for (`--threads {threads}` = `--cpus-per-task`), and the GPU request is one switch,
AVSSL_SLURM_GPU = gpus | gres | none, shown as the sbatch line the plugin would build
(workflow/slurm/sbatch_preview.py uses the plugin's own submit-string functions).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, env_with_venv, tool

PROFILE = REPO / "workflow" / "profiles" / "slurm"
GPU_RULES = {"pretrain", "finetune", "finetune_scratch", "finetune_frozen"}
CPU_RULES = {"synthesize", "preprocess_part", "preprocess", "features", "evaluate", "evaluate_frozen", "report"}
# rules that take another stage's `resources` entry (workflow/rules/common.smk RESOURCE_KEYS)
RESOURCE_OF = {"finetune_scratch": "finetune", "finetune_frozen": "finetune", "evaluate_frozen": "evaluate",
               "features": "evaluate"}


def _preview_module():
    spec = importlib.util.spec_from_file_location("sbatch_preview", REPO / "workflow/slurm/sbatch_preview.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PREVIEW = _preview_module()


def _copy_tree(dst: Path) -> None:
    """The workflow files only (no data, results or MLflow store), so the dry run plans every job."""
    for name in ("Snakefile", "params.yaml"):
        shutil.copy2(REPO / name, dst / name)
    for name in ("workflow", "profiles", "conda", ".test"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, dst / name, ignore=shutil.ignore_patterns(".snakemake", "data", "results",
                                                                                 "logs", "mlflow.db", "mlartifacts"))
    (dst / "src").symlink_to(REPO / "src")


def _dry_run(work: Path, gpu: str | None, *extra: str, gpu_partition: bool = True) -> tuple[list[dict], str]:
    env = {k: v for k, v in env_with_venv().items() if not k.startswith("AVSSL_SLURM_")}
    env.update(AVSSL_SLURM_ACCOUNT="acct-test", AVSSL_SLURM_PARTITION="cpuq")
    if gpu_partition:
        env["AVSSL_SLURM_GPU_PARTITION"] = "gpuq"
    if gpu is not None:
        env["AVSSL_SLURM_GPU"] = gpu
    env.pop("SLURM_JOB_ID", None)
    # --cores lifts the dry run's cap of threads at 1 (a SLURM submission has no such cap)
    proc = subprocess.run([tool("snakemake"), "--profile", str(PROFILE), "-n", "--cores", "1024", *extra],
                          cwd=work, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    jobs = PREVIEW.parse_dry_run(text)
    assert jobs, text[-2000:]
    return jobs, text


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm")
    _copy_tree(work)
    return work


@pytest.fixture(scope="module")
def tiny(work):
    return _dry_run(work, None, "--directory", ".test")


def _tiny_params() -> dict:
    from avssl.config import load_params

    return load_params([REPO / ".test/params.yaml"]).model_dump(mode="json")


def test_profile_is_plain_yaml_for_the_slurm_executor():
    cfg = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert cfg["executor"] == "slurm"
    assert cfg["rerun-incomplete"] is True and cfg["retries"] >= 1 and cfg["jobs"] >= 1
    # successful jobs' sbatch logs are kept where README says (the plugin deletes them by default)
    assert cfg["slurm-keep-successful-logs"] is True and cfg["slurm-logdir"] == "logs/slurm"
    assert cfg["slurm-delete-logfiles-older-than"] == 0
    # no fixed CPU/memory numbers: they come from the preset's params
    for rule, res in cfg.get("set-resources", {}).items():
        assert not {"cpus_per_task", "cpus_per_gpu", "mem_mb", "runtime", "gpu"} & set(res), rule
    assert "set-threads" not in cfg


def test_tiny_preset_asks_for_what_its_params_say(tiny):
    jobs, _ = tiny
    res_params = _tiny_params()["resources"]
    seen = {j["rule"] for j in jobs}
    assert {"synthesize", "preprocess_part", "preprocess", "pretrain", "features", "finetune_frozen", "evaluate",
            "evaluate_frozen", "report"} <= seen
    for job in jobs:
        key = RESOURCE_OF.get(job["rule"], job["rule"])
        want = res_params[key]
        assert int(job["resources"]["mem_mb"]) == want["mem_mb"] <= 4000, job
        assert int(job["resources"]["runtime"]) == want["runtime"], job
        assert job["threads"] == want.get("threads", 1) <= 2, job


def test_every_job_is_told_the_cpus_it_asked_for(tiny):
    """`--threads N` in the job's command equals the threads Snakemake (and so --cpus-per-task) asks for."""
    _, text = tiny
    blocks = re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", text)
    checked = 0
    for block in blocks:
        m = re.search(r"^rule (\w+):", block, re.M)
        cmd = re.search(r"--threads (\d+)", block)
        if not m or not cmd:
            continue
        threads = re.search(r"^\s+threads: (\d+)", block, re.M)
        assert int(cmd.group(1)) == (int(threads.group(1)) if threads else 1), block
        checked += 1
    assert checked >= 10
    assert re.search(r"avssl synth .*--threads 2 ", text)  # tiny: resources.synthesize.threads = 2


def _lines(jobs: list[dict]) -> dict[str, str]:
    out = {}
    for job in jobs:
        out.setdefault(job["rule"], PREVIEW.sbatch_line(job))
    return out


def test_gpu_switch_gpus_is_the_default(tiny):
    lines = _lines(tiny[0])
    for rule in GPU_RULES & set(lines):
        assert "--gpus=1" in lines[rule] and "--gres" not in lines[rule] and "-p gpuq" in lines[rule], lines[rule]
        assert "--cpus-per-task=1" in lines[rule]  # 1 + train.num_workers (0 in the tiny preset)
    for rule in CPU_RULES & set(lines):
        assert "--gpus" not in lines[rule] and "--gres" not in lines[rule] and "-p cpuq" in lines[rule], lines[rule]
        assert "-A acct-test" in lines[rule]
    assert "--cpus-per-task=2" in lines["synthesize"] and "--mem 2000" in lines["synthesize"]
    assert "-t 60" in lines["pretrain"] and "--mem 3000" in lines["pretrain"]


def test_gpu_switch_gres_and_none(work):
    gres = _lines(_dry_run(work, "gres", "--directory", ".test")[0])
    assert "--gres=gpu:1" in gres["pretrain"] and "--gpus" not in gres["pretrain"], gres["pretrain"]
    none = _lines(_dry_run(work, "none", "--directory", ".test", gpu_partition=False)[0])
    for rule, line in none.items():
        assert "--gpus" not in line and "--gres" not in line and "-p cpuq" in line, (rule, line)
        assert "--cpus-per-task=" in line


@pytest.mark.slow
def test_default_preset_scales_up(work):
    jobs, _ = _dry_run(work, None)
    lines = _lines(jobs)
    assert "--cpus-per-task=8" in lines["preprocess_part"] and "--mem 8000" in lines["preprocess_part"]
    assert "--mem 16000" in lines["pretrain"]


def test_set_resources_for_unknown_rules_is_not_an_error(tmp_path):
    """Rules listed in the profile that the params do not create must not break a dry run."""
    profile = tmp_path / "profile"
    profile.mkdir()
    cfg = yaml.safe_load((PROFILE / "config.yaml").read_text())
    cfg["set-resources"]["rule_that_does_not_exist"] = {"mem_mb": 1, "gpu": 3}
    (profile / "config.yaml").write_text(yaml.safe_dump(cfg))
    work = tmp_path / "work"
    work.mkdir()
    _copy_tree(work)
    env = {k: v for k, v in env_with_venv().items() if not k.startswith("AVSSL_SLURM_")}
    proc = subprocess.run([tool("snakemake"), "--profile", str(profile), "-n", "synthesize"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = PREVIEW.parse_dry_run(proc.stdout + proc.stderr)
    assert jobs[0]["resources"]["slurm_account"] == ""  # unset variable -> no -A (cluster default)



def test_no_rule_needs_a_total_core_count(work):
    """`snakemake --profile workflow/profiles/slurm` and `snakemake --report` run without --cores: no rule may
    size its threads from workflow.cores (Snakemake then stops: "requires a total number of cores")."""
    env = {k: v for k, v in env_with_venv().items() if not k.startswith("AVSSL_SLURM_")}
    proc = subprocess.run([tool("snakemake"), "--report", "report.html"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=120)
    text = proc.stdout + proc.stderr
    assert "total number of cores" not in text, text[-2000:]
    # without a finished run the report has nothing to show: that, and only that, stops it here
    assert proc.returncode == 0 or "marked for report but does not exist" in text, text[-2000:]


def test_the_workflow_profile_is_loaded(tiny, work):
    """profiles/default (rerun-incomplete: the crash recovery README documents) is where Snakemake 9 looks."""
    assert "workflow specific profile profiles/default" in tiny[1]
    cfg = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert cfg["rerun-incomplete"] is True and "cores" not in cfg
