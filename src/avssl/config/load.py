"""Load params.yaml (+ overlays + `--set key=value`) into :class:`Params` with errors people can act on.

A wrong key, type or range stops a stage before any work, with the file, the dotted key path, what is
wrong and what is allowed — e.g. ``params.yaml: synth.n_speakers = -1: must be >= 3 (integer, 3..64)``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from avssl.config.params import Params


class ParamsError(ValueError):
    """Invalid parameters. The message names the source, the key path and the allowed values."""


def deep_merge(base: dict, overlay: dict) -> dict:
    """Recursively merge ``overlay`` into a copy of ``base`` (overlay wins; dicts merge, lists replace)."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_set(assignments: Iterable[str]) -> dict:
    """Turn ``["synth.n_speakers=4", "pretrain.methods=[raven]"]`` into a nested dict (YAML-typed values)."""
    out: dict = {}
    for item in assignments:
        if "=" not in item:
            raise ParamsError(f"--set {item!r}: expected section.key=value")
        path, raw = item.split("=", 1)
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise ParamsError(f"--set {item!r}: empty key")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ParamsError(f"--set {item!r}: value is not valid YAML ({exc})") from exc
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ParamsError(f"--set {item!r}: {key} is both a value and a section")
        node[keys[-1]] = value
    return out


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}")
    return data


def load_params(files: Sequence[str | Path] = ("params.yaml",), overrides: Iterable[str] = ()) -> Params:
    """Merge the files in order, then the ``--set`` overrides, and validate the result."""
    merged: dict = {}
    for f in files:
        merged = deep_merge(merged, read_yaml(f))
    merged = deep_merge(merged, parse_set(overrides))
    source = " + ".join(str(f) for f in files) or "<defaults>"
    if overrides:
        source += " + --set"
    return params_from_dict(merged, source=source)


def params_from_dict(data: dict[str, Any], source: str = "params") -> Params:
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        raise ParamsError(format_validation_error(exc, data, source)) from None


def _lookup(data: Any, loc: Sequence) -> Any:
    for key in loc:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return "<missing>"
    return data


def _field_info(loc: Sequence) -> tuple[type[BaseModel] | None, str | None]:
    """The model that owns the last key of ``loc`` and that key (None if ``loc`` leaves the models)."""
    model: Any = Params
    for i, key in enumerate(loc):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None, None
        if i == len(loc) - 1:
            return model, str(key)
        field = model.model_fields.get(str(key))
        if field is None:
            return None, None
        model = field.annotation
    return None, None


def describe_allowed(model: type[BaseModel], key: str) -> str:
    """Human description of what a field accepts, taken from its JSON schema."""
    schema = model.model_json_schema()
    prop = schema.get("properties", {}).get(key, {})
    defs = schema.get("$defs", {})
    return _describe_schema(prop, defs)


def _describe_schema(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        ref = defs.get(prop["$ref"].split("/")[-1], {})
        return f"a section with keys {', '.join(sorted(ref.get('properties', {})))}"
    if "enum" in prop:
        return "one of " + ", ".join(repr(v) for v in prop["enum"])
    if "const" in prop:
        return repr(prop["const"])
    if "anyOf" in prop:
        return " or ".join(_describe_schema(p, defs) for p in prop["anyOf"])
    kind = prop.get("type", "value")
    parts = []
    if "minimum" in prop or "exclusiveMinimum" in prop:
        parts.append(f">= {prop['minimum']}" if "minimum" in prop else f"> {prop['exclusiveMinimum']}")
    if "maximum" in prop or "exclusiveMaximum" in prop:
        parts.append(f"<= {prop['maximum']}" if "maximum" in prop else f"< {prop['exclusiveMaximum']}")
    if kind == "array" and "items" in prop:
        kind = f"a list of ({_describe_schema(prop['items'], defs)})"
        if "minItems" in prop:
            parts.append(f"at least {prop['minItems']} item(s)")
    desc = kind + (" " + ", ".join(parts) if parts else "")
    return desc


def format_validation_error(exc: ValidationError, data: dict, source: str) -> str:
    lines = [f"{source}: invalid parameters ({exc.error_count()} problem(s)):"]
    for err in exc.errors():
        loc = [k for k in err["loc"] if not (isinstance(k, str) and k.startswith(("function-", "literal[")))]
        path = ".".join(str(k) for k in loc)
        if not loc:  # a check across sections (Params' own validators): the message names the keys
            lines.append(f"  - {err['msg'].removeprefix('Value error, ')}")
            continue
        model, key = _field_info(loc)
        if err["type"] == "extra_forbidden":
            allowed = sorted(model.model_fields) if model is not None else []
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            msg = f"  - {path}: unknown key"
            if hint:
                msg += f" (did you mean '{'.'.join(str(k) for k in loc[:-1] + [hint[0]])}'?)"
            msg += f"; allowed keys here: {', '.join(allowed)}"
            lines.append(msg)
            continue
        value = _lookup(data, loc)
        allowed = describe_allowed(model, key) if model is not None and key in model.model_fields else None
        msg = f"  - {path} = {value!r}: {err['msg']}"
        if allowed:
            msg += f"; allowed: {allowed}"
        lines.append(msg)
    return "\n".join(lines)
