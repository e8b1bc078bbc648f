# Shared set-up: run the repository's code, validate params, and helpers that read the stage table.

import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO / "src"))

from avssl import stages as stage_table  # noqa: E402

# Jobs run this checkout's code whether or not the package is installed (conda envs do not install it),
# and outside conda `python` is the interpreter running Snakemake (e.g. .venv/bin/python).
stage_table.prepare_job_environment(REPO)
from avssl.config import ParamsError, params_from_dict  # noqa: E402

# params.yaml plus any --configfile overlays, in order: every job receives exactly these files.
PARAMS_FILES = ["params.yaml"]
for _overlay in workflow.overwrite_configfiles:
    _rel = os.path.relpath(_overlay)
    if _rel not in PARAMS_FILES:
        PARAMS_FILES.append(_rel)

# Friendly check first (names the key path and the allowed values), then the JSON schema, which also
# fills defaults into `config` for the rules below.
try:
    PARAMS = params_from_dict(config, source=" + ".join(PARAMS_FILES))
except ParamsError as exc:
    raise WorkflowError(str(exc))
validate(config, "../schemas/params.schema.json")


RESOLVED = PARAMS.model_dump(mode="json")


def stage(name):
    return stage_table.BY_NAME[name]


def constants(name):
    """Grid fields that are not wildcards but take one value in every job (e.g. the dataset name):
    substituted literally into the rule's command and inputs."""
    st = stage(name)
    jobs = st.jobs(RESOLVED)
    out = {}
    for field in jobs[0] if jobs else {}:
        values = {str(job[field]) for job in jobs}
        if field not in st.wildcards and len(values) == 1:
            out[field] = values.pop()
    return out


def fill_constants(name, text):
    for field, value in constants(name).items():
        text = text.replace(f"{{{field}}}", value)
    return text


def _snakemake_literal(text):
    """Braces in a file name would be read as Snakemake placeholders: double them."""
    return text.replace("{", "{{").replace("}", "}}")


def stage_command(name):
    """The stage's avssl command line; Snakemake adds only the thread count and the log redirection.

    Every params file is shell-quoted (Stage.cli) and brace-escaped, so an overlay named `ov $(x); 'q'.yaml`
    reaches the job as one argument and nothing in its name runs. GPU stages start through `{params.launch}`:
    `python -m avssl` on one GPU (exactly the DVC command), torchrun with one process per GPU when the job's
    `gpu` resource asks for several (DDP, see the slurm profile).
    """
    files = tuple(_snakemake_literal(f) for f in PARAMS_FILES)
    cli = fill_constants(name, stage(name).cli(files))
    if stage(name).gpu:
        cli = cli.replace(stage_table.PYTHON, "{params.launch}", 1)
    for wildcard in stage(name).wildcards:
        cli = cli.replace(f"{{{wildcard}}}", f"{{wildcards.{wildcard}}}")
    return f"{cli} --threads {{threads}} > {{log}} 2>&1"


def job_command(parsed_name, scope):
    """The shell command of a rule built in the stage loop (stages.smk).

    Snakemake evaluates a rule's `shell:` expression twice: once when the rule is defined (the command dry runs
    print) and again when a job runs, inside the rule's function, where the loop variable has long moved on to the
    table's last stage. That function receives its own rule name as `rule`, so the second call uses it.
    """
    return stage_command(scope.get("rule", parsed_name))


# Outputs shown in Snakemake's HTML report (`snakemake --report`), each with its caption (paths relative to
# workflow/rules/): the tables inline, one caption per kind of figure, chosen by file name.
REPORT_OUTPUTS = {
    "results/tables": dict(patterns=["{name}.html"], caption="../report/tables.rst", category="Tables",
                           labels={"table": "{name}"}),
    "results/figures": dict(patterns=["{name}.png"], caption="../report/figures.rst", category="Figures",
                            labels={"figure": "{name}"}),
}


def stage_outputs(name):
    out = []
    for o in stage(name).all_outputs():
        path = stage_table.strip_dir(o)
        item = directory(path) if o.endswith("/") else o
        out.append(report(item, **REPORT_OUTPUTS[path]) if path in REPORT_OUTPUTS else item)
    return out


def stage_inputs(name):
    """The stage's inputs. A real dataset's folder that does not exist yet is left out: the stage itself then
    says how to obtain the corpus (avssl index), and `snakemake -n --configfile OVERLAY` lists a paper's jobs
    before any data is there (README "Reproducing the papers")."""
    st = stage(name)
    static = [fill_constants(name, stage_table.strip_dir(d)) for d in st.deps]
    dynamic = st.deps_from(RESOLVED) if st.deps_from else []
    if st.deps_from is stage_table._dataset_root:
        dynamic = [d for d in dynamic if os.path.exists(d)]
    return static + dynamic


def job_of(name, wildcards):
    """The grid entry of a fan-out stage that these wildcards select."""
    st = stage(name)
    for job in st.jobs(RESOLVED):
        if all(str(job[w]) == str(wildcards[w]) for w in st.wildcards):
            return job
    raise WorkflowError(f"{name}: no job in params for wildcards {dict(wildcards)}")


def stage_params(name):
    """The resolved params a job reads: Snakemake's params trigger re-runs exactly the jobs whose params change."""
    import json

    st = stage(name)

    def values(wildcards):
        keys = stage_table.job_params(st, job_of(name, wildcards) if st.grid else {})
        return json.dumps({k: stage_table.params_value(RESOLVED, k) for k in keys}, sort_keys=True)

    return values


# How GPU stages ask SLURM for their GPU (one switch, read when the rules are parsed; see the slurm profile):
# `gpus` -> --gpus=N (select/cons_tres), `gres` -> --gres=gpu:N, `none` -> no GPU request (CPU-only cluster).
GPU_REQUEST = os.environ.get("AVSSL_SLURM_GPU", "gpus").strip().lower()
if GPU_REQUEST not in ("gpus", "gres", "none"):
    raise WorkflowError(f"AVSSL_SLURM_GPU={GPU_REQUEST!r}: use gpus (--gpus=N), gres (--gres=gpu:N) or none")
GPUS_PER_JOB = int(os.environ.get("AVSSL_SLURM_GPUS_PER_JOB", "1"))


def stage_threads(name):
    """CPUs a job asks for and receives as `--threads {threads}` (SLURM: --cpus-per-task, the plugin's default):
    Stage.threads read with the params (`resources.<stage>.threads`, `train.num_workers`)."""
    return stage(name).job_threads(RESOLVED, GPUS_PER_JOB)


def stage_resources(name):
    """`mem_mb` and `runtime` from params; GPU stages add their GPU request (AVSSL_SLURM_GPU)."""
    res = RESOLVED["resources"][stage(name).resources_key]
    out = {"mem_mb": res["mem_mb"], "runtime": res["runtime"]}
    if stage(name).gpu and GPU_REQUEST == "gpus":
        out["gpu"] = GPUS_PER_JOB
    elif stage(name).gpu and GPU_REQUEST == "gres":
        out["gres"] = f"gpu:{GPUS_PER_JOB}"
    return out


def stage_conda(name):
    """The conda env file of the stage's role (GPU stages: the CUDA build)."""
    return str(REPO / "conda" / f"{stage(name).conda_env}.yaml")


def stage_launch(name):
    """GPU stages start through `{params.launch}` (see stage_command); other rules have no such param, so their
    recorded params (a re-run trigger) do not change."""
    return {"launch": launcher} if stage(name).gpu else {}


def launcher(wildcards, resources):
    gres = str(getattr(resources, "gres", "") or "")
    gpus = int(getattr(resources, "gpu", 0) or (gres.rsplit(":", 1)[-1] if gres.startswith("gpu") else 0) or 0)
    if gpus > 1:
        return f"torchrun --standalone --nproc_per_node={gpus} -m avssl"
    return stage_table.PYTHON


def choices(name, field):
    """Regex matching the values a wildcard takes in a stage's jobs (keeps the two finetune rules apart)."""
    import re

    values = sorted({str(job[field]) for job in stage(name).jobs(RESOLVED)}) or ["__none__"]
    return "|".join(re.escape(v) for v in values)


def stage_constraints(name):
    """Each wildcard's regex: the stage table's pattern, or else exactly the values of the stage's jobs."""
    st = stage(name)
    patterns = dict(st.constraints)
    return {w: patterns[w] if w in patterns else choices(name, w) for w in st.wildcards}


def all_targets():
    out = []
    for st in stage_table.STAGES:
        for job in st.jobs(RESOLVED):
            out += [stage_table.strip_dir(o).format(**job) for o in st.all_outputs()]
    return out
