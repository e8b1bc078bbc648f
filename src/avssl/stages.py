"""The stage table: the one description of the DAG from which the Snakemake rules and dvc.yaml follow.

Each :class:`Stage` names the `avssl` sub-command it runs, its inputs, outputs, metrics, plots, the
params sections it reads, how its jobs fan out (``grid``), and what a scheduler needs to run one job: log
file, threads, resources section, GPU need (and with it the conda env), wildcard constraints, description.
`workflow/rules/stages.smk` builds one rule per stage from it in one loop and `avssl dvc-yaml` renders
dvc.yaml from it; tests/test_dag_parity.py proves both DAGs run the same commands
with the same inputs and outputs. Import-light on purpose: the Snakefile imports it.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from avssl.registry import tasks as task_registry
from avssl.registry import inits
from avssl.registry.inits import RAVEN_ENCODER_KEYS, SHUKLA_ENCODER_KEYS  # noqa: F401 (re-exported)

PYTHON = "python -m avssl"


PRETRAINED_INITS = inits.method_names()  # loaded from a `pretrain` job's output
WEIGHTLESS_INITS = inits.weightless_names()  # front ends with no weights: there is nothing to fine-tune
FROZEN_ONLY = inits.frozen_only_names()  # nothing worth fine-tuning: random or weightless encoders


# What the training loop reads of `train` when a downstream task drives it (its schedule is finetune.<task>'s).
FINETUNE_TRAIN_KEYS = tuple(f"train.{k}" for k in (
    "bf16", "checkpoint_every", "compile", "deterministic", "device", "keep_checkpoint", "log_every", "num_buckets",
    "num_workers", "val_batches"))  # fmt: skip
DECODING_KEYS = ("evaluate.beam_size", "evaluate.ctc_weight", "evaluate.length_bonus")  # asr/vsr: built into the model


def pretrain_params(job: dict) -> tuple[str, ...]:
    """Every method reads the loop (train) and its own sections (RAVEn raven.*, the Shukla pretexts shukla.* and
    the face crop they reconstruct: `Init.pretrain_keys`)."""
    return ("study.seed", "train", *inits.get(job["method"]).pretrain_keys)


def encoder_params(job: dict) -> tuple[str, ...]:
    """The params of the encoder a fine-tuning job builds: none when it loads a pre-trained one."""
    init = inits.get(job["init"])
    if init.task_architecture and task_registry.get(job["task"]).scratch_arch == "raven":
        return RAVEN_ENCODER_KEYS
    return init.encoder_keys  # () when pre-trained (from its model file) or nuisance (no parameters)


def finetune_params(job: dict) -> tuple[str, ...]:
    decoding = DECODING_KEYS if task_registry.get(job["task"]).sequence else ()
    return ("study.seed", *FINETUNE_TRAIN_KEYS, "finetune.{field}", "finetune.noise_augmentation",
            *encoder_params(job), *decoding)


def evaluate_params(job: dict) -> tuple[str, ...]:
    """Evaluation rebuilds the task model (finetune.<task>) and adds noise (evaluate.*)."""
    return ("evaluate", "finetune.{field}")


def pretrain_jobs(params: dict) -> list[dict]:
    return [{"method": m} for m in params["pretrain"]["methods"]]


def is_synthetic(params: dict) -> bool:
    """The embedded corpus (stage `synthesize`) or a real dataset (stage `index` over `datasets.<name>_root`)."""
    return params["study"]["dataset"] == "synthetic"


def index_jobs(params: dict) -> list[dict]:
    return [] if is_synthetic(params) else [{"dataset": params["study"]["dataset"]}]


def _dataset_root(params: dict) -> list[str]:
    """The real dataset's folder: an external dependency (Snakemake and DVC notice when it changes)."""
    return [] if is_synthetic(params) else [params["datasets"][f"{params['study']['dataset']}_root"]]


def preprocess_parts(params: dict) -> list[dict]:
    """One preprocessing job per shard group (`preprocess.shard_groups`), each writing its own part folder."""
    extra = {} if is_synthetic(params) else {"dataset": params["study"]["dataset"]}
    return [{"part": str(i), **extra} for i in range(params["preprocess"]["shard_groups"])]


def _merge_deps(params: dict) -> list[str]:
    return [PART_DIR.format(**job) for job in preprocess_parts(params)]


def finetune_jobs(params: dict) -> list[dict]:
    """Every fine-tuning job: the explicit `finetune.jobs` list, or the grid tasks x inits x modes x fractions x seeds
    plus `finetune.extra_jobs`.

    Video tasks only use inits with a video encoder (`scratch`, `raven`); an init with a fixed mode runs only in
    it (`scratch` fine-tuned, `random`, `logmel` and `nuisance` frozen); `nuisance` is not run on sentence
    transcription; pre-trained inits must be pre-trained (in pretrain.methods). All from avssl.registry.inits.
    """
    ft = params["finetune"]
    if ft["jobs"]:
        jobs = [dict(j) for j in ft["jobs"]]
    else:
        jobs = []
        for task in ft["tasks"]:
            spec = task_registry.get(task)
            for init in map(inits.get, ft["inits"]):
                if spec.modality == "video" and "video" not in init.modalities:
                    continue
                if not init.sequence_tasks and spec.sequence:
                    continue
                for mode in [init.mode] if init.mode else ft["encoder_modes"]:
                    for fraction in ft["label_fractions"]:
                        for seed in ft["seeds"]:
                            jobs.append({"task": task, "init": init.name, "mode": mode, "fraction": fraction, "seed": seed})
    jobs += [dict(j) for j in ft.get("extra_jobs", [])]
    methods = set(params["pretrain"]["methods"])
    orphans = [j for j in jobs if j["init"] in PRETRAINED_INITS and j["init"] not in methods]
    if orphans:  # refused before any work (Snakemake builds its DAG from here), never dropped
        names = "; ".join(f"{j['task']}/{j['init']}/{j.get('mode', 'finetuned')}/f{j.get('fraction', 1.0)}/"
                          f"seed {j.get('seed', 0)}" for j in orphans)
        raise ValueError(f"{len(orphans)} fine-tuning job(s) need a pre-training method that pretrain.methods "
                         f"({', '.join(sorted(methods))}) does not run: {names}. Add the method to "
                         "pretrain.methods or remove these jobs.")
    out = []
    for job in jobs:
        job = {**job, "fraction": format(float(job["fraction"]), "g"), "seed": str(job["seed"])}
        job["field"] = task_registry.get(job["task"]).section
        out.append(job)
    return out


def _pretrained(jobs: list[dict]) -> list[dict]:
    return [j for j in jobs if j["init"] in PRETRAINED_INITS]


def uses_features(job: dict) -> bool:
    """A frozen pre-trained encoder: its features come from the `features` stage (computed once per init).

    `random` is frozen too, but its weights are drawn from each job's own seed, and `logmel` / `nuisance` are
    weightless front ends as cheap as reading a cached copy: those encode in the job itself."""
    return job["init"] in PRETRAINED_INITS and job.get("mode") == "frozen"


def feature_jobs(params: dict) -> list[dict]:
    """One `features` job per pre-trained init that some fine-tuning job uses frozen."""
    inits = {j["init"] for j in finetune_jobs(params) if uses_features(j)}
    return [{"init": i} for i in PRETRAINED_INITS if i in inits]


def _from_scratch(jobs: list[dict]) -> list[dict]:
    return [j for j in jobs if j["init"] not in PRETRAINED_INITS]


@dataclass(frozen=True)
class Stage:
    name: str
    command: str  # avssl sub-command
    args: tuple[tuple[str, str], ...]  # ordered CLI options; values may hold {wildcards}
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()  # a trailing "/" marks a directory output
    metrics: tuple[str, ...] = ()  # JSON metrics files (also outputs; not cached by DVC)
    plots: tuple[str, ...] = ()  # PNG/CSV plots (also outputs; not cached by DVC)
    # The params a job reads: dotted keys (sections or leaves, may hold {item fields}), or a function of the job
    # returning them. The stage code receives a view of exactly these (avssl.config.view): reading anything else
    # raises, so Snakemake's params trigger and DVC's `params:` re-run exactly the jobs a change concerns.
    params: tuple[str, ...] | Callable[[dict], tuple[str, ...]] = ()
    grid: Callable[[dict], list[dict]] | None = None  # fan-out: one job per returned dict of wildcard values
    wildcards: tuple[str, ...] = ()  # the grid fields that appear in paths (Snakemake wildcards)
    deps_from: Callable[[dict], list[str]] | None = None  # deps computed from the whole params (e.g. report)
    # CPUs a job takes (see job_threads): "workers" = `resources.<stage>.threads` worker processes; "loader" = torch
    # on one thread (bit-identical on any core count) + `train.num_workers` loader processes per GPU process; "N"
    threads: str = "1"
    gpu: bool = False  # runs torch on a GPU when there is one: the CUDA conda env and a GPU request under SLURM
    description: str = ""  # what one job does: the Snakemake rule's docstring (`snakemake --list-rules`)
    active: Callable[[dict], bool] | None = None  # None = always part of the DAG
    log: str = ""  # the job's log file (Snakemake); "" = logs/<name>.log or logs/<name>/<wildcards>.log
    resources: str = ""  # the params section `resources.<resources>` sizing each job; "" = the stage's name
    constraints: tuple[tuple[str, str], ...] = ()  # wildcard -> regex; other wildcards: the values in the jobs

    def cli(self, params_files: tuple[str, ...] = ("params.yaml",)) -> str:
        """The command line with {field} placeholders (no thread count: that is scheduler business)."""
        parts = [PYTHON, self.command]
        for f in params_files:
            parts += ["--params", shlex.quote(f)]  # user-chosen names (--configfile): one argument, never code
        for key, value in self.args:
            parts += [key, value] if value else [key]
        return " ".join(parts)

    @property
    def log_path(self) -> str:
        if self.log:
            return self.log
        if not self.wildcards:
            return f"logs/{self.name}.log"
        return f"logs/{self.name}/" + "-".join(f"{{{w}}}" for w in self.wildcards) + ".log"

    @property
    def resources_key(self) -> str:
        return self.resources or self.name

    @property
    def conda_env(self) -> str:
        """The conda/<env>.yaml its jobs run in under --use-conda: the CUDA build for GPU stages."""
        return "avssl-gpu" if self.gpu else "avssl"

    def job_threads(self, params: dict, gpus_per_job: int = 1) -> int:
        """CPUs one job asks for and receives as ``--threads``: Snakemake's threads, SLURM's --cpus-per-task."""
        if self.threads == "workers":
            return int(params["resources"][self.resources_key]["threads"])
        if self.threads == "loader":
            procs = max(1, gpus_per_job) if self.gpu else 1
            return procs * (1 + int(params["train"]["num_workers"]))
        return int(self.threads)

    def all_outputs(self) -> tuple[str, ...]:
        return self.outs + self.metrics + self.plots

    def is_active(self, params: dict) -> bool:
        return self.active is None or self.active(params)

    def jobs(self, params: dict) -> list[dict]:
        if not self.is_active(params):
            return []
        return self.grid(params) if self.grid else [{}]


PART_DIR = "data/preprocess_parts/{part}"
PRETRAIN_DIR = "results/pretrain/{method}"
FT_DIR = "results/finetune/{task}/{init}-{mode}/f{fraction}-s{seed}"
EVAL_DIR = "results/evaluate/{task}/{init}-{mode}/f{fraction}-s{seed}"
FEATURES_DIR = "results/features/{init}"
FT_WILDCARDS = ("task", "init", "mode", "fraction", "seed")
FT_LOG = "{task}/{init}-{mode}-f{fraction}-s{seed}.log"  # under logs/<stage>/
# `task`, `init` and `mode` match exactly the values of the stage's jobs (common.smk `choices`): that keeps the
# fine-tuning rules apart (`finetune` holds only fine-tuned pre-trained jobs, `finetune_frozen` only frozen ones).
FT_CONSTRAINTS = (("fraction", r"[0-9.e-]+"), ("seed", r"\d+"))
PART_LOG, PART_CONSTRAINTS = "logs/preprocess/part{part}.log", (("part", r"\d+"),)
FT_ARGS = (("--task", "{task}"), ("--init", "{init}"), ("--mode", "{mode}"), ("--fraction", "{fraction}"),
           ("--seed", "{seed}"))  # fmt: skip
# What the two shard-group stages (synthetic corpus / real dataset) share: one shard group in, its part folder out.
PART_METRICS = "results/metrics/preprocess_part{part}.json"
PART_ARGS = (("--shard-group", "{part}"), ("--output", PART_DIR), ("--metrics", PART_METRICS))
PART_STAGE = dict(outs=(f"{PART_DIR}/",), metrics=(PART_METRICS,), grid=preprocess_parts, wildcards=("part",),
                  threads="workers", log=PART_LOG, constraints=PART_CONSTRAINTS)  # fmt: skip


def _report_deps(params: dict) -> list[str]:
    return [f"{EVAL_DIR}/metrics.json".format(**job) for job in finetune_jobs(params)]


def _per_job(grid: Callable[[dict], list[dict]]) -> dict:
    """What every fine-tuning / evaluation stage shares: one job per (task, init, mode, fraction, seed)."""
    return dict(grid=grid, wildcards=FT_WILDCARDS, threads="loader", constraints=FT_CONSTRAINTS)


def _finetune(name: str, grid: Callable[[dict], list[dict]], pretrained: bool, features: bool = False) -> Stage:
    return Stage(
        name=name,
        command="finetune",
        args=(*FT_ARGS, ("--input", "data/processed"),
              *((("--pretrained", "results/pretrain/{init}"),) if pretrained else ()),
              *((("--features", FEATURES_DIR),) if features else ()),
              ("--output", FT_DIR)),  # fmt: skip
        deps=("data/processed/", *(("results/pretrain/{init}/model.safetensors",) if pretrained else ()),
              *((f"{FEATURES_DIR}/",) if features else ())),
        outs=(f"{FT_DIR}/model.safetensors", f"{FT_DIR}/config.json"),
        metrics=(f"{FT_DIR}/metrics.json",),
        plots=(f"{FT_DIR}/training_curves.png",),
        params=finetune_params,
        gpu=True,
        description="Fine-tune one (task, init, mode, label fraction, seed)"
        + (" on the cached features of a frozen pre-trained encoder." if features
           else " from a pre-trained encoder." if pretrained else " from a random encoder."),
        log="logs/finetune/" + FT_LOG,
        resources="finetune",
        **_per_job(grid),
    )


def _evaluate(name: str, grid: Callable[[dict], list[dict]], features: bool) -> Stage:
    return Stage(
        name=name,
        command="evaluate",
        args=(*FT_ARGS, ("--input", "data/processed"), ("--finetuned", FT_DIR),
              *((("--features", FEATURES_DIR),) if features else ()), ("--output", EVAL_DIR)),  # fmt: skip
        deps=("data/processed/", f"{FT_DIR}/model.safetensors", f"{FT_DIR}/config.json",
              *((f"{FEATURES_DIR}/",) if features else ())),
        outs=(f"{EVAL_DIR}/predictions.csv",),
        metrics=(f"{EVAL_DIR}/metrics.json",),
        plots=(f"{EVAL_DIR}/snr_curve.png",),
        params=evaluate_params,
        description="Evaluate one fine-tuned model, clean and at every SNR / noise type"
        + (" (from the cached features of its frozen encoder)." if features else "."),
        log="logs/evaluate/" + FT_LOG,
        resources="evaluate",
        **_per_job(grid),
    )


STAGES: tuple[Stage, ...] = (
    Stage(
        name="synthesize",
        command="synth",
        args=(("--output", "data/synth"), ("--metrics", "results/metrics/synthesize.json")),
        outs=("data/synth/",),
        metrics=("results/metrics/synthesize.json",),
        params=("study.seed", "synth"),
        threads="workers",
        active=is_synthetic,
        description="Synthesise the embedded audio-visual corpus (eSpeak NG speech + animated face).",
    ),
    Stage(
        name="index",
        command="index",
        args=(("--dataset", "{dataset}"), ("--output", "data/index/{dataset}.csv")),
        deps_from=_dataset_root,
        outs=("data/index/{dataset}.csv", "data/index/{dataset}.problems.csv"),
        params=("datasets",),
        grid=index_jobs,
        wildcards=("dataset",),
        active=lambda p: not is_synthetic(p),
        description="Clip index of the real dataset `study.dataset` (ids, split, speaker, labels, media paths).",
    ),
    Stage(
        name="preprocess_part",
        command="preprocess",
        args=(("--input", "data/synth"), *PART_ARGS),
        deps=("data/synth/",),
        params=("preprocess",),
        active=is_synthetic,
        description="Face tracking, mouth ROIs, face crops and audio for one shard group (scale-out unit).",
        **PART_STAGE,
    ),
    Stage(
        name="preprocess_part_dataset",
        command="preprocess",
        args=(("--dataset", "{dataset}"), ("--input", "data/index/{dataset}.csv"), *PART_ARGS),
        deps=("data/index/{dataset}.csv",),
        deps_from=_dataset_root,
        params=("preprocess", "datasets"),
        active=lambda p: not is_synthetic(p),
        description="The same for a real dataset: media from the clip index (audio decoded from the containers).",
        resources="preprocess_part",
        **PART_STAGE,
    ),
    Stage(
        name="preprocess",
        command="preprocess",
        args=(
            ("--merge-parts", "data/preprocess_parts"),
            ("--output", "data/processed"),
            ("--metrics", "results/metrics/preprocess.json"),
        ),
        deps_from=_merge_deps,
        outs=("data/processed/",),
        metrics=("results/metrics/preprocess.json",),
        params=("preprocess",),
        threads="1",
        description="Merge the shard-group parts into the training shards (hard links, no second copy).",
        log="logs/preprocess/merge.log",
    ),
    Stage(
        name="pretrain",
        command="pretrain",
        args=(("--method", "{method}"), ("--input", "data/processed"), ("--output", PRETRAIN_DIR)),
        deps=("data/processed/",),
        outs=(f"{PRETRAIN_DIR}/model.safetensors", f"{PRETRAIN_DIR}/config.json"),
        metrics=(f"{PRETRAIN_DIR}/metrics.json",),
        plots=(f"{PRETRAIN_DIR}/training_curves.png",),
        params=pretrain_params,
        grid=pretrain_jobs,
        wildcards=("method",),
        threads="loader",
        gpu=True,
        description="Self-supervised pre-training, one job per method.",
    ),
    Stage(
        name="features",
        command="features",
        args=(("--init", "{init}"), ("--input", "data/processed"), ("--pretrained", "results/pretrain/{init}"),
              ("--output", FEATURES_DIR)),  # fmt: skip
        deps=("data/processed/", "results/pretrain/{init}/model.safetensors"),
        outs=(f"{FEATURES_DIR}/",),
        params=("evaluate.snrs", "evaluate.noise_types", "evaluate.noise_seed", "evaluate.babble_speakers"),
        grid=feature_jobs,
        wildcards=("init",),
        threads="loader",
        resources="evaluate",
        description="Features of one frozen pre-trained encoder, once for every task, fraction and seed: every "
        "clip clean, the test clips in each evaluation noise condition.",
    ),
    _finetune("finetune", lambda p: [j for j in _pretrained(finetune_jobs(p)) if not uses_features(j)],
              pretrained=True),
    _finetune("finetune_frozen", lambda p: [j for j in finetune_jobs(p) if uses_features(j)], pretrained=True,
              features=True),
    _finetune("finetune_scratch", lambda p: _from_scratch(finetune_jobs(p)), pretrained=False),
    _evaluate("evaluate", lambda p: [j for j in finetune_jobs(p) if not uses_features(j)], features=False),
    _evaluate("evaluate_frozen", lambda p: [j for j in finetune_jobs(p) if uses_features(j)], features=True),
    Stage(
        name="report",
        command="report",
        args=(("--output", "results"),),
        deps_from=_report_deps,
        outs=("results/tables/", "results/figures/"),  # figures: PNGs for people, CSVs for REPORT_PLOTS
        metrics=("results/summary.json",),
        params=("study.name", "report"),
        threads="1",
        description="Paper tables and figures from the study's MLflow runs.",
    ),
)

BY_NAME = {s.name: s for s in STAGES}

# dvc.yaml's top-level plots: the report's curve CSVs, each with its axes and a template (.dvc/plots/) that
# draws one chart per `panel` and one line per `series` (columns written by avssl.report.figures).
REPORT_PLOTS = (
    ("results/figures/training_curves.csv", "avssl_lines", "step", "value", "Pre-training losses", "step", "loss"),
    ("results/figures/snr_curves.csv", "avssl_lines", "snr", "mean", "Main metric vs SNR (mean over seeds)",
     "SNR (dB)", "main metric (accuracy/UAR/WER %, CCC)"),
    ("results/figures/label_fraction.csv", "avssl_lines_logx", "fraction", "mean",
     "Main clean metric vs label fraction (mean over seeds)", "label fraction", "main metric"),
)  # fmt: skip


def params_value(params: dict, dotted: str):
    node = params
    for key in dotted.split("."):
        node = node[key]
    return node


def strip_dir(path: str) -> str:
    return path[:-1] if path.endswith("/") else path


def job_deps(stage: Stage, params: dict, job: dict) -> list[str]:
    deps = [strip_dir(d).format(**job) for d in stage.deps]
    if stage.deps_from is not None:
        deps += stage.deps_from(params)
    return deps


def job_params(stage: Stage, job: dict) -> list[str]:
    """The dotted params keys one job of `stage` declares (and may read): the one declaration both tools watch."""
    declared = stage.params(job) if callable(stage.params) else stage.params
    return list(dict.fromkeys(p.format(**job) for p in declared))


def _dvc_params(stage: Stage, jobs: list[dict], templ: Callable[[str], str]) -> tuple[list[str], list[dict]]:
    """DVC `params:` for a stage and its foreach items. DVC 3 cannot interpolate a list into `params:`: keys every
    job declares are listed as they are, and the keys that differ between jobs travel as item fields
    `param0..paramN` (padded by repeating a key the job declares anyway, which DVC records once)."""
    if not callable(stage.params):
        return [templ(p) for p in stage.params], jobs
    lists = [job_params(stage, job) for job in jobs]
    common = [k for k in lists[0] if all(k in lst for lst in lists)]
    rests = [[k for k in lst if k not in common] for lst in lists]
    n = max(len(rest) for rest in rests)
    if n == 0:
        return common, jobs
    items = [{**job, **{f"param{i}": (rest or lst)[min(i, len(rest or lst) - 1)] for i in range(n)}}
             for job, lst, rest in zip(jobs, lists, rests)]  # fmt: skip
    return common + [f"${{item.param{i}}}" for i in range(n)], items


def to_dvc(params: dict) -> dict:
    """Render dvc.yaml (as a dict). Fan-out stages become `foreach:` stages over the jobs of params.yaml."""
    stages = {}
    for stage in STAGES:
        if not stage.is_active(params):
            continue

        def templ(text: str) -> str:
            return re.sub(r"\{(\w+)\}", r"${item.\1}", text)

        body: dict = {"cmd": templ(stage.cli())}
        deps = [templ(strip_dir(d)) for d in stage.deps]
        if stage.deps_from is not None:
            deps += stage.deps_from(params)
        if deps:
            body["deps"] = deps
        jobs = stage.jobs(params) if stage.grid is not None else [{}]
        body["params"], jobs = _dvc_params(stage, jobs, templ) if jobs else ([], jobs)
        if stage.outs:
            body["outs"] = [templ(strip_dir(o)) for o in stage.outs]
        if stage.metrics:
            body["metrics"] = [{templ(m): {"cache": False}} for m in stage.metrics]
        if stage.plots:
            body["plots"] = [{templ(strip_dir(p)): {"cache": False}} for p in stage.plots]
        if stage.grid is None:
            stages[stage.name] = body
            continue
        if not jobs:
            continue
        items = {"-".join(str(j[w]) for w in stage.wildcards): j for j in jobs}
        stages[stage.name] = {"foreach": items, "do": body}
    plots = [{path: {"template": t, "x": x, "y": y, "title": title, "x_label": xl, "y_label": yl}}
             for path, t, x, y, title, xl, yl in REPORT_PLOTS]  # fmt: skip
    return {"stages": stages, "plots": plots}


def prepare_job_environment(repo: Path) -> None:
    """Make Snakemake jobs run this checkout's `src/` with the interpreter that runs Snakemake.

    Under --use-conda the job's environment puts its own python first on PATH, so only PYTHONPATH matters.
    """
    src = str(Path(repo) / "src")
    current = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([src, current] if current else [src])
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
