"""A job reads exactly the params it declares, and changing one re-runs exactly the jobs that read it.

Every stage function works with a view of its job's declaration (avssl.config.view): reading an undeclared key
raises, and each run stores what it read in MLflow (artifact params_read.json). The tests check, for every job of
the tiny DAG and every job kind of the default grid, that each declared entry was read; then, on a copy of the
finished tiny DAG, that changing one declared leaf makes `snakemake -n` and `dvc status` plan exactly the jobs
that declare it (Snakemake: plus their downstream, which DVC re-runs once the upstream outputs change).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from avssl import stages
from avssl.config import load_params
from tests.conftest import env_for_copy, tool

REPO = Path(__file__).resolve().parents[1]


def address(stage: stages.Stage, job: dict) -> str:
    """The job's name in dvc.yaml (and in avssl.dvc_sync): `stage` or `stage@wildcard-values`."""
    return stage.name + ("@" + "-".join(str(job[w]) for w in stage.wildcards) if stage.grid else "")


def all_jobs(params: dict) -> dict[str, tuple[stages.Stage, dict]]:
    return {address(st, job): (st, job) for st in stages.STAGES for job in st.jobs(params)}


def read_records(work: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((work / "mlartifacts").rglob("params_read.json"))]


def assert_reads_match_declarations(records: list[dict], jobs: dict) -> None:
    """Every job has a record, declared what the stage table declares, and read something under each entry."""
    by_address: dict[str, list[dict]] = {}
    for rec in records:
        st = stages.BY_NAME[rec["stage"]]
        by_address.setdefault(address(st, rec["job"]), []).append(rec)
    missing = sorted(set(jobs) - set(by_address))
    assert not missing, f"jobs without a params_read.json record: {missing}"
    for name, (st, job) in jobs.items():
        for rec in by_address[name]:
            assert rec["declared"] == stages.job_params(st, job), name
            unread = [d for d in rec["declared"] if not any(r == d or r.startswith(d + ".") for r in rec["read"])]
            assert not unread, f"{name} declares {unread} but read nothing there (read: {rec['read']})"
            undeclared = [r for r in rec["read"] if not any(r == d or r.startswith(d + ".") for d in rec["declared"])]
            assert not undeclared, name  # the view refuses these; a record with one would be a bug in the view


@pytest.mark.slow
def test_every_tiny_job_reads_exactly_what_it_declares(tiny_dag):
    params = load_params([tiny_dag / "params.yaml"]).model_dump(mode="json")
    assert_reads_match_declarations(read_records(tiny_dag), all_jobs(params))


@pytest.mark.slow
def test_every_job_kind_of_the_default_grid_reads_exactly_what_it_declares(tiny_dag, tmp_path, monkeypatch):
    """The default preset's jobs differ from the tiny ones in kind, not in which keys a kind reads: params.yaml
    and .test/params.yaml set the same keys and differ in sizes, the grid and the names only. A kind is (task,
    mode, init), with the pre-trained inits as one (their encoder is loaded from a file, which reads no params;
    the tiny DAG runs all four methods). One job of every kind the tiny DAG does not run is run here, in-process
    with params.yaml (plus the sizes finetune.<task>.max_steps=1 and evaluate.snrs=[0]), on the tiny DAG's data and
    pre-trained encoders;
    each job's reads are what the CLI stores in MLflow (no tracking here: the same record is captured)."""
    from avssl import cli
    from avssl.config.view import read_record

    default = load_params([REPO / "params.yaml"]).model_dump(mode="json")
    tiny = load_params([tiny_dag / "params.yaml"]).model_dump(mode="json")
    def kind(job):  # what decides the code path: which pre-trained file an encoder is loaded from reads no params
        return job["task"], job["mode"], "pretrained" if job["init"] in stages.PRETRAINED_INITS else job["init"]

    done = {kind(j) for j in stages.finetune_jobs(tiny)}
    todo = {}
    for job in stages.finetune_jobs(default):
        if kind(job) not in done:
            todo.setdefault(kind(job), job)
    assert todo, "the default grid has no job kind beyond the tiny DAG's"
    records = []
    monkeypatch.setattr(cli, "_log_reads", lambda run, view: records.append(read_record(view)))
    processed = str(tiny_dag / "data" / "processed")
    jobs = {}
    for job in todo.values():
        task, init, mode = job["task"], job["init"], job["mode"]
        common = ["--params", str(REPO / "params.yaml"), "--set", f"finetune.{job['field']}.max_steps=1",
                  "--set", "evaluate.snrs=[0]",  # sizes: one SNR per noise type instead of five
                  "--no-track", "--threads", "1", "--task", task, "--init", init, "--mode", mode,
                  "--fraction", job["fraction"], "--seed", job["seed"], "--input", processed]
        out = tmp_path / f"{task}-{init}-{mode}"
        pre = ["--pretrained", str(tiny_dag / "results" / "pretrain" / init)] if init in stages.PRETRAINED_INITS else []
        assert cli.main(["finetune", *common, *pre, "--output", str(out)]) == 0, (task, init, mode)
        assert cli.main(["evaluate", *common, "--finetuned", str(out), "--output", str(out) + "-eval"]) == 0
        for name in ("finetune" if init in stages.PRETRAINED_INITS else "finetune_scratch", "evaluate"):
            jobs[address(stages.BY_NAME[name], job)] = (stages.BY_NAME[name], job)
    assert_reads_match_declarations(records, jobs)


# --------------------------------------------------------------------------------- what a change re-runs

# One declared leaf per section the issue names, each with a valid new value for the tiny preset.
CHANGES = {
    "train.num_buckets": 3,
    "raven.layers": 1,
    "shukla.n_mels": 32,
    "shukla.gru_hidden": 24,
    "evaluate.beam_size": 2,
    "preprocess.min_frames": 9,
    "synth.noise_floor_db": -55.0,
    "finetune.emotion.lr_head": 0.002,
    "report.decimals": 2,
}


def declarers(params: dict, key: str) -> set[str]:
    """The jobs whose declaration covers `key`."""
    jobs = all_jobs(params)
    return {name for name, (st, job) in jobs.items()
            if any(key == d or key.startswith(d + ".") for d in stages.job_params(st, job))}


def with_downstream(params: dict, names: set[str]) -> set[str]:
    """`names` plus every job that consumes, directly or not, one of their outputs (from the stage table)."""
    jobs = all_jobs(params)
    outs = {n: [stages.strip_dir(o).format(**j) for o in st.all_outputs()] for n, (st, j) in jobs.items()}
    deps = {n: stages.job_deps(st, params, j) for n, (st, j) in jobs.items()}
    planned, grew = set(names), True
    while grew:
        grew = False
        for n in jobs:
            if n not in planned and any(d == o or d.startswith(o + "/") for d in deps[n]
                                        for p in planned for o in outs[p]):  # fmt: skip
                planned.add(n)
                grew = True
    return planned


def snakemake_plan(work: Path, env: dict) -> tuple[set[str], set[str]]:
    """(every job `snakemake -n` plans, the jobs it plans because their params changed) as dvc.yaml names."""
    out = subprocess.run([tool("snakemake"), "-n", "--nolock", "--cores", "2", "--directory", work.name],
                         cwd=work.parent, env=env, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    planned, by_params = set(), set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out.stdout):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if not rule or rule.group(1) not in stages.BY_NAME:
            continue
        st = stages.BY_NAME[rule.group(1)]
        found = re.search(r"\n\s+wildcards: (.+)", block)
        wildcards = dict(kv.split("=", 1) for kv in found.group(1).split(", ")) if found else {}
        name = address(st, wildcards)
        planned.add(name)
        if "Params have changed" in block:
            by_params.add(name)
    return planned, by_params


def dvc_plan(work: Path, env: dict) -> set[str]:
    out = subprocess.run([tool("dvc"), "status", "--json"], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return set(json.loads(out.stdout or "{}"))


def _copy_for_change(src: Path, dest: Path) -> Path:
    """A copy of the finished run in which only params.yaml may change: bulky folders are hard links (neither
    a dry run nor `dvc status` writes them), everything tools write into is copied."""
    def ignore(folder, names):
        return [n for n in names if Path(folder, n) in bulky]

    work = src / ".test"
    bulky = {work / "data", work / "results", work / "mlartifacts", work / ".dvc" / "cache"}
    shutil.copytree(src, dest, symlinks=True, ignore=ignore)
    for path in bulky:
        if path.exists():
            shutil.copytree(path, dest / path.relative_to(src), symlinks=True, copy_function=os.link)
    return dest


@pytest.fixture(scope="module")
def recorded_tiny(tiny_dag, tmp_path_factory) -> Path:
    """The finished tiny DAG, copied and also recorded in DVC (its own project: .test is not the repo's), so
    both tools start from "nothing to do"."""
    from avssl.dvc_sync import restore, snapshot
    from avssl.workflow_files import render_dvc_yaml

    root = tmp_path_factory.mktemp("declared") / "repo"
    shutil.copytree(tiny_dag.parent, root, symlinks=True)
    work = root / ".test"
    env = env_for_copy(root)
    subprocess.run([tool("dvc"), "init", "--no-scm", "-q"], cwd=work, env=env, check=True)
    shutil.copy2(REPO / ".dvcignore", work / ".dvcignore")
    (work / "dvc.yaml").write_text(render_dvc_yaml(str(work / "params.yaml")))
    params = load_params([work / "params.yaml"]).model_dump(mode="json")
    outputs = [str(work / stages.strip_dir(o).format(**j)) for st in stages.STAGES for j in st.jobs(params)
               for o in st.all_outputs()]  # fmt: skip
    before = snapshot(outputs)
    done = subprocess.run([tool("dvc"), "commit", "--force", "--quiet"], cwd=work, env=env,
                          capture_output=True, text=True)  # fmt: skip
    restore(before)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert dvc_plan(work, env) == set()
    assert snakemake_plan(work, env)[0] == set()
    return root


@pytest.mark.slow
def test_changing_one_declared_param_replans_exactly_its_jobs_in_both_tools(recorded_tiny, tmp_path):
    params = load_params([recorded_tiny / ".test" / "params.yaml"]).model_dump(mode="json")

    def plan(key: str):
        root = _copy_for_change(recorded_tiny, tmp_path / key)
        work = root / ".test"
        data = yaml.safe_load((work / "params.yaml").read_text())
        node = data
        *path, leaf = key.split(".")
        for part in path:
            node = node[part]
        assert node[leaf] != CHANGES[key], key
        node[leaf] = CHANGES[key]
        (work / "params.yaml").unlink()  # never write through a link
        (work / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        env = env_for_copy(root)
        return key, snakemake_plan(work, env), dvc_plan(work, env)

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(plan, CHANGES))
    for key, (smk_all, smk_params), dvc in results:
        direct = declarers(params, key)
        assert direct, f"no job declares {key}"
        assert dvc == direct, f"{key}: dvc status {sorted(dvc)} != declaring jobs {sorted(direct)}"
        # Snakemake names "params changed" only where no upstream job re-runs (that reason comes first)
        assert smk_params <= direct, f"{key}: snakemake params trigger {sorted(smk_params - direct)} undeclared"
        assert with_downstream(params, smk_params) == with_downstream(params, direct), key
        assert smk_all == with_downstream(params, direct), f"{key}: {sorted(smk_all ^ with_downstream(params, direct))}"
    plans = {key: smk for key, (smk, _), _ in results}
    # the two cases: the scratch RAVEn-architecture jobs follow raven.*, RAVEn ignores shukla.*
    scratch_raven = {n for n, (st, j) in all_jobs(params).items()
                     if j.get("init") == "scratch" and stages.task_registry.get(j["task"]).scratch_arch == "raven"}
    assert scratch_raven and scratch_raven <= plans["raven.layers"]
    assert "pretrain@raven" not in plans["shukla.n_mels"] | plans["shukla.gru_hidden"]
    assert "pretrain@raven" in plans["train.num_buckets"]
