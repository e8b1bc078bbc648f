"""The stage table: the one description of the DAG from which the Snakemake rules and dvc.yaml follow.

Each :class:`Stage` names the `avssl` sub-command it runs, its inputs, outputs, metrics, plots, the
params sections it reads and, for fan-out stages, the params key that lists the values of each wildcard
(e.g. ``method`` <- ``pretrain.methods``). `workflow/rules/*.smk` build their rules from it and
`avssl dvc-yaml` renders dvc.yaml from it; tests/test_dag_parity.py proves both DAGs run the same commands
with the same inputs and outputs. Import-light on purpose: the Snakefile imports it.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

PYTHON = "python -m avssl"


@dataclass(frozen=True)
class Stage:
    name: str
    command: str  # avssl sub-command
    args: tuple[tuple[str, str], ...]  # ordered CLI options; values may hold {wildcards}
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()  # a trailing "/" marks a directory output
    metrics: tuple[str, ...] = ()  # JSON metrics files (also outputs; not cached by DVC)
    plots: tuple[str, ...] = ()  # PNG/CSV plots (also outputs; not cached by DVC)
    params: tuple[str, ...] = ()  # params.yaml sections the stage reads
    matrix: dict[str, str] = field(default_factory=dict)  # wildcard -> params key listing its values
    threads: str = "1"  # "all" = every core given to the workflow
    gpu: bool = False
    description: str = ""

    def wildcards(self) -> list[str]:
        return list(self.matrix)

    def cli(self, params_files: tuple[str, ...] = ("params.yaml",)) -> str:
        """The command line with {wildcard} placeholders (no thread count: that is scheduler business)."""
        parts = [PYTHON, self.command]
        for f in params_files:
            parts += ["--params", f]
        for key, value in self.args:
            parts += [key, value] if value else [key]
        return " ".join(parts)

    def all_outputs(self) -> tuple[str, ...]:
        return self.outs + self.metrics + self.plots


def _pretrain_dir(method: str = "{method}") -> str:
    return f"results/pretrain/{method}"


STAGES: tuple[Stage, ...] = (
    Stage(
        name="synthesize",
        command="synth",
        args=(("--output", "data/synth"), ("--metrics", "results/metrics/synthesize.json")),
        outs=("data/synth/",),
        metrics=("results/metrics/synthesize.json",),
        params=("study", "synth"),
        threads="all",
        description="Synthesise the embedded audio-visual corpus (eSpeak NG speech + animated face).",
    ),
    Stage(
        name="preprocess",
        command="preprocess",
        args=(
            ("--input", "data/synth"),
            ("--output", "data/processed"),
            ("--metrics", "results/metrics/preprocess.json"),
        ),
        deps=("data/synth/",),
        outs=("data/processed/",),
        metrics=("results/metrics/preprocess.json",),
        params=("study", "preprocess"),
        threads="all",
        description="Face tracking, mouth ROIs, face crops and audio into training shards.",
    ),
    Stage(
        name="pretrain",
        command="pretrain",
        args=(("--method", "{method}"), ("--input", "data/processed"), ("--output", _pretrain_dir())),
        deps=("data/processed/",),
        outs=(f"{_pretrain_dir()}/model.safetensors", f"{_pretrain_dir()}/config.json"),
        metrics=(f"{_pretrain_dir()}/metrics.json",),
        plots=(f"{_pretrain_dir()}/training_curve.png",),
        params=("study", "pretrain", "train", "raven", "shukla"),
        matrix={"method": "pretrain.methods"},
        threads="2",
        gpu=True,
        description="Self-supervised pre-training, one job per method.",
    ),
)

BY_NAME = {s.name: s for s in STAGES}


def metrics_path(stage: Stage, **wildcards: str) -> str:
    return stage.metrics[0].format(**wildcards)


def params_value(params: dict, dotted: str):
    node = params
    for key in dotted.split("."):
        node = node[key]
    return node


def expand(stage: Stage, params: dict) -> list[dict[str, str]]:
    """Every wildcard assignment of a fan-out stage (one empty dict for a plain stage)."""
    combos: list[dict[str, str]] = [{}]
    for wildcard, key in stage.matrix.items():
        values = params_value(params, key)
        combos = [{**c, wildcard: str(v)} for c in combos for v in values]
    return combos


def strip_dir(path: str) -> str:
    return path[:-1] if path.endswith("/") else path


def to_dvc(params: dict) -> dict:
    """Render dvc.yaml (as a dict). Fan-out stages become `matrix:` stages templated from params.yaml."""
    stages = {}
    for stage in STAGES:
        def templ(text: str) -> str:
            return re.sub(r"\{(\w+)\}", r"${item.\1}", text)

        entry: dict = {}
        if stage.matrix:
            entry["matrix"] = {w: "${" + key + "}" for w, key in stage.matrix.items()}
        entry["cmd"] = templ(stage.cli())
        if stage.deps:
            entry["deps"] = [templ(strip_dir(d)) for d in stage.deps]
        entry["params"] = list(stage.params)
        if stage.outs:
            entry["outs"] = [templ(strip_dir(o)) for o in stage.outs]
        if stage.metrics:
            entry["metrics"] = [{templ(m): {"cache": False}} for m in stage.metrics]
        if stage.plots:
            entry["plots"] = [{templ(p): {"cache": False}} for p in stage.plots]
        stages[stage.name] = entry
    return {"stages": stages}


def prepare_job_environment(repo: Path) -> None:
    """Make Snakemake jobs run this checkout's `src/` with the interpreter that runs Snakemake.

    Under --use-conda the job's environment puts its own python first on PATH, so only PYTHONPATH matters.
    """
    src = str(Path(repo) / "src")
    current = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([src, current] if current else [src])
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
