"""The params view stage code works with: declared keys readable and recorded, anything else refused by name."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from avssl.config import Params
from avssl.config.raven import RavenParams
from avssl.config.view import (
    UndeclaredParam,
    declared_leaves,
    params_view,
    read_keys,
    unread_declarations,
)

REPO = Path(__file__).resolve().parents[1]


def test_declared_section_and_leaf_are_readable_and_recorded():
    view = params_view(Params(), "pretrain", ["raven", "train.device", "study.seed"])
    assert view.raven.layers == Params().raven.layers
    assert view.train.device == Params().train.device
    assert view.study.seed == 0
    assert read_keys(view) == ["raven.layers", "study.seed", "train.device"]
    assert unread_declarations(view) == []


def test_an_undeclared_key_raises_naming_the_stage_and_the_key():
    view = params_view(Params(), "pretrain", ["raven", "train.device"])
    section = view.shukla  # reaching a section reads nothing
    with pytest.raises(UndeclaredParam) as err:
        section.code_dim
    assert "'pretrain'" in str(err.value) and "'shukla.code_dim'" in str(err.value)
    with pytest.raises(UndeclaredParam) as err:
        view.train.lr  # a sibling of a declared leaf
    assert "'train.lr'" in str(err.value)
    # not an AttributeError: getattr(view, key, default) must not turn a missing declaration into a default
    with pytest.raises(UndeclaredParam):
        getattr(view.train, "steps", None)
    assert not isinstance(err.value, AttributeError)


def test_the_cli_reports_it_as_one_line():
    from avssl.failures import failure_message

    err = UndeclaredParam("evaluate", "raven.layers", ["evaluate"])
    assert "raven.layers" in failure_message(err) and "evaluate" in failure_message(err)


def test_sections_passed_on_stay_views_and_methods_read_through_them():
    view = params_view(Params(), "finetune_scratch", ["raven"])
    section = view.raven
    assert isinstance(section, RavenParams)  # code that accepts the section keeps working
    assert section.encoder_config() == Params().raven.encoder_config()
    assert {"raven.size", "raven.dropout"} <= set(read_keys(view))
    assert "raven.lr" not in read_keys(view)
    with pytest.raises(TypeError):
        section.layers = 3


def test_model_dump_reads_every_leaf_it_returns_and_refuses_undeclared_ones():
    view = params_view(Params(), "synthesize", ["synth", "study.seed"])
    assert view.synth.model_dump() == Params().synth.model_dump()
    assert set(read_keys(view)) == set(declared_leaves(Params(), ["synth"]))
    with pytest.raises(UndeclaredParam):
        params_view(Params(), "x", ["study.seed"]).study.model_dump()


def test_an_unread_declaration_is_reported():
    view = params_view(Params(), "report", ["report", "study.name"])
    view.report.decimals
    assert unread_declarations(view) == ["study.name"]


def test_worker_processes_receive_plain_values():
    view = params_view(Params(), "pretrain", ["train"])
    copy = pickle.loads(pickle.dumps(view.train))
    assert copy == Params().train


@pytest.mark.parametrize("size", ["base", "large", "custom"])
def test_the_encoder_keys_a_scratch_job_declares_are_what_building_the_encoder_reads(size):
    from avssl.stages import RAVEN_ENCODER_KEYS

    custom = dict(layers=2, adim=64, heads=2, ffn=128) if size == "custom" else {}
    params = Params(raven=RavenParams(size=size, **custom))
    view = params_view(params, "finetune_scratch", RAVEN_ENCODER_KEYS)
    view.raven.encoder_config()
    assert set(read_keys(view)) == set(RAVEN_ENCODER_KEYS)  # whatever the size: reads do not depend on values


def test_a_stage_that_reads_an_undeclared_key_stops_with_one_clear_line(tmp_path, monkeypatch, capsys):
    from avssl import cli, stages

    monkeypatch.setattr(stages, "job_params", lambda stage, job: ["study.seed"])  # a declaration missing `synth`
    code = cli.main(["synth", "--params", str(REPO / ".test" / "params.yaml"), "--no-track",
                     "--output", str(tmp_path / "synth")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err, err
    assert "avssl synth: error: stage 'synthesize' read params key 'synth." in err, err
