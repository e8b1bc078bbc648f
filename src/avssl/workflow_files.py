"""Render the files that follow from the stage table (dvc.yaml) so they cannot drift from it."""

from __future__ import annotations

import yaml

from avssl.stages import to_dvc

HEADER = (
    "# Generated from the stage table in src/avssl/stages.py by `avssl dvc-yaml --output dvc.yaml`.\n"
    "# Do not edit by hand: tests/test_dag_parity.py checks it is up to date and agrees with Snakemake.\n"
)


def render_dvc_yaml() -> str:
    return HEADER + yaml.safe_dump(to_dvc({}), sort_keys=False, width=120)
