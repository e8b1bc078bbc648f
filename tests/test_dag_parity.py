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


def test_a_real_dataset_starts_from_its_index_in_both_tools(tmp_path):
    """study.dataset = crema_d: `index` + `preprocess_part_dataset` replace `synthesize` + `preprocess_part`."""
    import shutil

    import yaml

    from avssl.config import load_params
    from avssl.workflow_files import render_dvc_yaml

    root = tmp_path / "raw" / "crema_d"
    root.mkdir(parents=True)
    shutil.copy2(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    (tmp_path / "src").symlink_to(REPO / "src")
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["study"]["dataset"] = "crema_d"
    data["datasets"]["crema_d_root"] = "raw/crema_d"
    data["finetune"].update(tasks=["emotion"], inits=["scratch"], extra_jobs=[])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "dvc.yaml").write_text(render_dvc_yaml(str(tmp_path / "params.yaml")))
    subprocess.run([tool("dvc"), "init", "--no-scm", "-q"], cwd=tmp_path, check=True, env=env_with_venv())
    smk, dvc = snakemake_jobs(tmp_path), dvc_jobs(tmp_path)
    assert set(smk) == set(dvc) and all(smk[c] == dvc[c] for c in smk)
    commands = sorted(smk)
    assert not any(" synth " in c for c in commands)
    index = [c for c in commands if " index " in c]
    assert index == ["python -m avssl index --params params.yaml --dataset crema_d --output data/index/crema_d.csv"]
    assert smk[index[0]][0] == {"raw/crema_d"}  # the raw folder is a dependency of the index
    parts = [c for c in commands if "--shard-group" in c]
    assert len(parts) == load_params([tmp_path / "params.yaml"]).preprocess.shard_groups
    assert all("--dataset crema_d --input data/index/crema_d.csv" in c for c in parts)



def test_both_tools_watch_exactly_the_params_each_job_declares():
    """DVC's `params:` of every job (foreach items carry the keys that differ) are the stage table's declaration
    for that job, which is also what the Snakemake rules' `params:` hold (common.smk `stage_params`)."""
    from dvc.repo import Repo

    from avssl import stages
    from avssl.config import load_params

    params = load_params([REPO / "params.yaml"]).model_dump(mode="json")
    expected = {}
    for st in stages.STAGES:
        for job in st.jobs(params):
            name = st.name + ("@" + "-".join(str(job[w]) for w in st.wildcards) if st.grid else "")
            expected[name] = set(stages.job_params(st, job))
    watched = {}
    with Repo(str(REPO)) as repo:
        for st in repo.index.stages:
            watched[st.addressing] = {k for d in st.deps if hasattr(d, "params") for k in d.params}
    assert watched == expected
    raven, shukla = expected["pretrain@raven"], expected["pretrain@shukla_audio"]
    assert "raven" in raven and not any(k.startswith("shukla") for k in raven)
    assert "shukla" in shukla and not any(k.startswith("raven") for k in shukla)
    scratch_vsr = expected["finetune_scratch@vsr-scratch-finetuned-1-0"]
    assert {"raven.layers", "train.num_buckets"} <= scratch_vsr
