"""JSON schema of params.yaml, generated from the pydantic model (Snakemake validates against it).

The committed copy lives in workflow/schemas/params.schema.json; tests/test_config.py fails when it is
stale (regenerate with `avssl schema --output workflow/schemas/params.schema.json`).
"""

from __future__ import annotations

import json

from avssl.config.params import Params

SCHEMA_PATH = "workflow/schemas/params.schema.json"


def params_schema() -> dict:
    schema = Params.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "avssl params.yaml"
    schema["description"] = "Generated from avssl.config.params.Params; do not edit by hand."
    return schema


def render_schema() -> str:
    return json.dumps(params_schema(), indent=2, sort_keys=True) + "\n"
