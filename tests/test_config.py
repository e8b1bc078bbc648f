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


PRESETS = [REPO / "params.yaml", REPO / ".test/params.yaml"]


def _leaf_paths(model, prefix=""):
    from pydantic import BaseModel

    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _leaf_paths(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: str(p.relative_to(REPO)))
def test_presets_list_every_key_with_its_meaning(preset):
    """Both preset files are complete (no hidden defaults) and documented (rendered with descriptions)."""
    params = load_params([preset])
    data = yaml.safe_load(preset.read_text())
    for path in _leaf_paths(params):
        node = data
        for key in path.split("."):
            assert isinstance(node, dict) and key in node, f"{preset.name}: {path} missing"
            node = node[key]
    assert preset.read_text() == render_params_yaml(params), f"re-render: avssl params --params {preset} --output {preset}"


def test_field_defaults_are_the_papers_values():
    p = Params()
    assert p.raven.size == "base" and p.raven.mask_prob == 0.2 and p.raven.mask_span == 3
    assert (p.raven.momentum_start, p.raven.momentum_end, p.raven.weight_decay) == (0.999, 1.0, 0.04)
    assert p.finetune.asr.ctc_weight == 0.1 and p.finetune.asr.label_smoothing == 0.1
    assert p.evaluate.beam_size == 40 and p.evaluate.ctc_weight == 0.1
    assert p.shukla.audio_lambda == 1.0 and p.shukla.code_dim == 512 and p.shukla.gru_hidden == 256


def test_committed_schema_is_generated_from_the_model():
    assert (REPO / "workflow/schemas/params.schema.json").read_text() == render_schema(), "run `make schema`"


def test_every_preset_and_overlay_is_valid():
    for f in PRESETS:
        jsonschema.validate(load_params([f]).model_dump(mode="json"), SCHEMA)
        jsonschema.validate(yaml.safe_load(f.read_text()), SCHEMA)
    for overlay in sorted((REPO / "workflow/presets").glob("*.yaml")):
        merged = load_params([REPO / "params.yaml", overlay])
        jsonschema.validate(merged.model_dump(mode="json"), SCHEMA)


BAD = [
    ({"synth": {"n_speakers": -1}}, "synth.n_speakers", ">= 3"),
    ({"preprocess": {"crop_size": "big"}}, "preprocess.crop_size", "integer"),
    ({"preprocess": {"crop_size": 64}}, "preprocess.crop_size", ">= 88"),  # smaller than the training crop
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


def test_snakemake_refuses_orphan_jobs_before_any_work(tmp_path):
    """`snakemake` (not only the avssl commands) refuses jobs of methods that are not pre-trained while planning,
    naming them, and runs nothing; the stage table raises too, so `avssl dvc-yaml` cannot drop them either."""
    import subprocess

    from tests.conftest import copy_repo, env_with_venv, tool

    root = copy_repo(tmp_path / "repo")
    env = env_with_venv()
    env["PYTHONPATH"] = str(root / "src")
    res = subprocess.run([tool("snakemake"), "-n", "--cores", "1", "--directory", ".test",
                          "--config", "pretrain={methods: [raven]}"],
                         cwd=root, env=env, capture_output=True, text=True)  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "5 fine-tuning job(s)/init(s) need a pre-training method" in out and "emotion/shukla_visual/frozen" in out
    assert not (root / ".test/data").exists()
    from avssl.stages import finetune_jobs

    raw = load_params([REPO / ".test/params.yaml"]).model_dump(mode="json")
    raw["pretrain"]["methods"] = ["raven"]
    with pytest.raises(ValueError, match=r"5 fine-tuning job\(s\) need .*emotion/shukla_visual/frozen/f0.5/seed 0"):
        finetune_jobs(raw)


def test_finetune_jobs_of_methods_not_pretrained_are_refused_not_dropped():
    """11 jobs listed, 5 of them from methods that are not pre-trained: the params are refused, naming them."""
    with pytest.raises(ParamsError) as err:
        load_params([REPO / ".test/params.yaml"], ["pretrain.methods=[raven]"])
    msg = str(err.value)
    assert "5 fine-tuning job(s)" in msg and "pretrain.methods (raven)" in msg
    for i, job in ((0, "emotion/shukla_audio"), (2, "emotion/shukla_visual"), (5, "affect/shukla_multitask")):
        assert f"finetune.jobs[{i}] ({job}/" in msg
    assert "finetune.jobs[1]" not in msg and "finetune.jobs[7]" not in msg  # nuisance, words_video/raven are fine
    with pytest.raises(ParamsError, match=r"finetune.extra_jobs\[0\] \(emotion/shukla_audio"):
        params_from_dict({"pretrain": {"methods": ["raven"]}, "finetune": {
            "inits": ["raven"], "extra_jobs": [{"task": "emotion", "init": "shukla_audio", "mode": "frozen"}]}})
    with pytest.raises(ParamsError, match=r"finetune.inits: shukla_visual"):  # the grid too
        params_from_dict({"pretrain": {"methods": ["raven", "shukla_audio", "shukla_multitask"]}})
    params_from_dict({"pretrain": {"methods": ["raven"]}, "finetune": {"inits": ["scratch", "logmel", "raven"],
                                                                         "extra_jobs": []}})
