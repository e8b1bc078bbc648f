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

CPU_ENV = str(REPO / "conda" / "avssl.yaml")
GPU_ENV = str(REPO / "conda" / "avssl-gpu.yaml")

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


def stage(name):
    return stage_table.BY_NAME[name]


def stage_command(name):
    """The stage's avssl command line; Snakemake adds only the thread count and the log redirection."""
    cli = stage(name).cli(tuple(PARAMS_FILES))
    for wildcard in stage(name).wildcards():
        cli = cli.replace(f"{{{wildcard}}}", f"{{wildcards.{wildcard}}}")
    return f"{cli} --threads {{threads}} > {{log}} 2>&1"


def stage_outputs(name):
    return [directory(stage_table.strip_dir(o)) if o.endswith("/") else o for o in stage(name).all_outputs()]


def stage_inputs(name):
    return [stage_table.strip_dir(d) for d in stage(name).deps]


def all_targets():
    out = []
    resolved = PARAMS.model_dump(mode="json")
    for st in stage_table.STAGES:
        for combo in stage_table.expand(st, resolved):
            out += [stage_table.strip_dir(o).format(**combo) for o in st.all_outputs()]
    return out


def stage_params(name):
    """The resolved params sections a stage reads: Snakemake's params trigger re-runs it when they change."""
    import json

    dumped = PARAMS.model_dump(mode="json")
    return json.dumps({s: dumped[s] for s in stage(name).params if s in dumped}, sort_keys=True)
