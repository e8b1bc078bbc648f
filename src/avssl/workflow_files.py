"""Render the files that follow from the stage table (dvc.yaml) so they cannot drift from it."""

from __future__ import annotations

import yaml

from avssl.stages import to_dvc

HEADER = (
    "# Generated from the stage table in src/avssl/stages.py by `avssl dvc-yaml --output dvc.yaml`.\n"
    "# Fan-out stages list the jobs of params.yaml: re-render after changing a grid (pretrain.methods,\n"
    "# finetune.*): `make dvc-yaml`. Do not edit by hand: tests/test_dag_parity.py checks it is up to date\n"
    "# and runs the same commands on the same files as Snakemake.\n"
)


def render_dvc_yaml(params_file: str = "params.yaml") -> str:
    """dvc.yaml for the jobs params.yaml asks for (re-render after changing a grid: `make dvc-yaml`)."""
    from avssl.config import load_params

    params = load_params([params_file]).model_dump(mode="json")
    return HEADER + yaml.safe_dump(to_dvc(params), sort_keys=False, width=120)
