"""Render params as commented YAML: params.yaml is the `default` preset written from the model.

Each key is preceded by its description, so params.yaml documents every choice (including the ones the
papers are silent about) and cannot drift from the pydantic model (tests/test_config.py).
"""

from __future__ import annotations

import textwrap

import yaml
from pydantic import BaseModel

HEADER = """\
# avssl params: the one config of the pipeline (Snakemake `configfile:`, DVC `params:`), validated by
# avssl.config.Params (unknown keys, wrong types and ranges stop a stage before any work). Every key is
# listed with its meaning; keys left out of a params file take the model defaults (the papers' values).
# Presets: params.yaml = `default` (make run); .test/params.yaml = `tiny` (tests); workflow/presets/*.yaml =
# paper-scale overlays (snakemake --cores all --configfile workflow/presets/<overlay>.yaml).
# Re-render with comments after edits: avssl params --params FILE --output FILE
"""


def _scalar(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    return text.removesuffix("...").strip()


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, width=110 - len(indent))]


def render_model(model: BaseModel, indent: str = "") -> list[str]:
    lines: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if field.description:
            lines += _comment(field.description, indent)
        if isinstance(value, BaseModel):
            lines.append(f"{indent}{name}:")
            lines += render_model(value, indent + "  ")
        else:
            dumped = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
            if isinstance(dumped, (list, tuple)) and any(isinstance(v, BaseModel) for v in dumped):
                dumped = [v.model_dump(mode="json") for v in dumped]
            dumped = _jsonable(dumped)
            if isinstance(dumped, list) and dumped and all(isinstance(v, dict) for v in dumped):
                lines.append(f"{indent}{name}:")  # one flow mapping per line: diff-friendly
                lines += [f"{indent}  - {_scalar(v)}" for v in dumped]
            else:
                lines.append(f"{indent}{name}: {_scalar(dumped)}")
    return lines


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return value.value
    return value


def render_params_yaml(params: BaseModel) -> str:
    body: list[str] = []
    for name, field in type(params).model_fields.items():
        body.append("")
        if field.description:
            body += _comment(field.description, "")
        body.append(f"{name}:")
        body += render_model(getattr(params, name), "  ")
    return HEADER + "\n".join(body) + "\n"
