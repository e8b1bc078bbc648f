"""Snakemake and DVC run the same DAG: same commands, same inputs and outputs (both from avssl.stages)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from avssl.workflow_files import render_dvc_yaml
from tests.conftest import env_with_venv, tool

REPO = Path(__file__).resolve().parents[1]


def test_dvc_yaml_is_rendered_from_the_stage_table():
    assert (REPO / "dvc.yaml").read_text() == render_dvc_yaml(), "run `make dvc-yaml`"


def snakemake_jobs(cwd: Path) -> dict[str, tuple[frozenset, frozenset]]:
    """command -> (inputs, outputs) for every job of a forced dry run."""
    out = subprocess.run(
        [tool("snakemake"), "--dry-run", "--forceall", "--printshellcmds", "--cores", "2"],
        cwd=cwd, capture_output=True, text=True, env=env_with_venv(), check=True,
    ).stdout
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        cmd = re.search(r"Shell command: (.+)", block)
        if not cmd or cmd.group(1).strip() == "None":  # `rule all` runs nothing
            continue
        command = re.sub(r" --threads \d+ > \S+ 2>&1$", "", cmd.group(1).strip())
        ins = re.search(r"\n\s+input: (.+)", block)
        outs = re.search(r"\n\s+output: (.+)", block)
        split = lambda m: frozenset(x.strip() for x in m.group(1).split(",")) if m else frozenset()  # noqa: E731
        jobs[command] = (split(ins), split(outs))
    return jobs


def dvc_jobs(cwd: Path) -> dict[str, tuple[frozenset, frozenset]]:
    from dvc.repo import Repo

    jobs = {}
    with Repo(str(cwd)) as repo:
        for st in repo.index.stages:
            deps = frozenset(str(d.def_path) for d in st.deps if str(d.def_path) != "params.yaml")
            jobs[st.cmd] = (deps, frozenset(str(o.def_path) for o in st.outs))
    return jobs


def test_snakemake_and_dvc_run_the_same_commands_on_the_same_files():
    smk, dvc = snakemake_jobs(REPO), dvc_jobs(REPO)
    assert smk, "snakemake dry run listed no jobs"
    assert set(smk) == set(dvc)
    for command in smk:
        assert smk[command] == dvc[command], command
