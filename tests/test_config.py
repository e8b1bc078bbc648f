"""params.yaml, the pydantic model and the JSON schema Snakemake validates against must agree."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from avssl.config import Params, ParamsError, load_params, params_from_dict
from avssl.config.load import parse_set
from avssl.config.render import render_params_yaml
from avssl.config.schema import render_schema

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "workflow/schemas/params.schema.json").read_text())


def test_params_yaml_is_the_rendered_default_preset():
    assert (REPO / "params.yaml").read_text() == render_params_yaml(Params()), "run `make schema`"
    assert load_params([REPO / "params.yaml"]) == Params()


def test_committed_schema_is_generated_from_the_model():
    assert (REPO / "workflow/schemas/params.schema.json").read_text() == render_schema(), "run `make schema`"


def test_every_preset_is_valid():
    files = [REPO / ".test/params.yaml", *sorted((REPO / "workflow/presets").glob("*.yaml"))]
    for f in files:
        merged = load_params([REPO / "params.yaml", f])
        jsonschema.validate(merged.model_dump(mode="json"), SCHEMA)


BAD = [
    ({"synth": {"n_speakers": -1}}, "synth.n_speakers", ">= 3"),
    ({"preprocess": {"crop_size": "big"}}, "preprocess.crop_size", "integer"),
    ({"preprocess": {"crop_sise": 96}}, "preprocess.crop_sise", "did you mean 'preprocess.crop_size'"),
    ({"synthh": {}}, "synthh", "did you mean 'synth'"),
    ({"pretrain": {"methods": ["byol"]}}, "pretrain.methods.0", "'raven'"),
    ({"preprocess": {"locator": "dlib"}}, "preprocess.locator", "'haar'"),
]


@pytest.mark.parametrize("data,path,allowed", BAD)
def test_bad_params_name_the_key_and_what_is_allowed(data, path, allowed):
    with pytest.raises(ParamsError) as err:
        params_from_dict(data, source="my.yaml")
    msg = str(err.value)
    assert "my.yaml" in msg and path in msg and allowed in msg


@pytest.mark.parametrize("data,path,allowed", BAD)
def test_schema_rejects_what_the_model_rejects(data, path, allowed):
    full = Params().model_dump(mode="json")
    for section, values in data.items():
        full.setdefault(section, {}).update(values)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(full, SCHEMA)


def test_schema_accepts_the_defaults_and_forbids_extra_keys_everywhere():
    jsonschema.validate(Params().model_dump(mode="json"), SCHEMA)
    for name, definition in SCHEMA.get("$defs", {}).items():
        if definition.get("type") == "object" and "properties" in definition:
            assert definition.get("additionalProperties") is False, name


def test_set_overrides_are_yaml_typed_and_nested(tmp_path):
    assert parse_set(["synth.n_speakers=4", "pretrain.methods=[raven]"]) == {
        "synth": {"n_speakers": 4},
        "pretrain": {"methods": ["raven"]},
    }
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump({"synth": {"n_speakers": 5}}))
    assert load_params([f], ["synth.n_speakers=6"]).synth.n_speakers == 6
    with pytest.raises(ParamsError, match="expected section.key=value"):
        parse_set(["synth.n_speakers"])


def test_overlays_merge_in_order(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("synth: {n_speakers: 5}\nstudy: {seed: 3}\n")
    b.write_text("synth: {n_speakers: 7}\n")
    p = load_params([a, b])
    assert (p.synth.n_speakers, p.study.seed) == (7, 3)


def test_missing_or_malformed_file_is_a_clear_error(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params([tmp_path / "nope.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ParamsError, match="mapping"):
        load_params([bad])
