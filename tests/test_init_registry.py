"""Adding a pre-training method = its objective module + one registry line: a toy method flows everywhere.

As in tests/test_dataset_registry.py, the line is added in a fresh interpreter before the rest of avssl is
imported; the checks cover config validation, the stage grid (which jobs, which params each declares),
dvc.yaml, the CLI, the report's rows and the pre-training dispatch (dry-run level: no training).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import env_with_venv

TOY_OBJECTIVE = '''
def build_objective(params, method):
    return f"objective of {method}"
'''

REGISTER = ('inits.INITS += (inits.Init("toy_ssl", "Toy SSL", 8, ("audio",), pretrained=True, '
            'pretrain_keys=("shukla",), objective="toy_method:build_objective", description="a toy method"),)')

CHECKS = '''
import json
from avssl.registry import inits
{register}

result = {{}}
from avssl.config import ParamsError, load_params
sets = ["pretrain.methods=[raven, toy_ssl]", "finetune.inits=[scratch, toy_ssl]", "finetune.tasks=[emotion, vsr]",
        "finetune.encoder_modes=[frozen, finetuned]"]
params = load_params([], sets)
result["validated"] = [params.pretrain.methods, params.finetune.inits]
try:
    load_params([], ["pretrain.methods=[raven]", "finetune.inits=[toy_ssl]"])
except ParamsError as exc:
    result["not_pretrained"] = str(exc)
try:
    load_params([], ["pretrain.methods=[toy]"])
except ParamsError as exc:
    result["unknown"] = str(exc)
from avssl import stages
raw = params.model_dump(mode="json")
result["pretrain_jobs"] = stages.BY_NAME["pretrain"].jobs(raw)
result["pretrain_params"] = stages.job_params(stages.BY_NAME["pretrain"], {{"method": "toy_ssl"}})
result["finetune_jobs"] = sorted((j["task"], j["init"], j["mode"]) for j in stages.finetune_jobs(raw))
result["feature_jobs"] = stages.BY_NAME["features"].jobs(raw)
result["dvc_pretrain"] = list(stages.to_dvc(raw)["stages"]["pretrain"]["foreach"])
from avssl.cli import build_parser
parser = build_parser()
result["cli"] = [parser.parse_args(["pretrain", "--method", "toy_ssl", "--input", "i", "--output", "o"]).method,
                 parser.parse_args(["features", "--init", "toy_ssl", "--input", "i", "--pretrained", "p",
                                    "--output", "o"]).init]
sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
result["pretrain_help"] = sub.choices["pretrain"].format_help()
from avssl.report.labels import INIT_ORDER, row_label
result["report"] = [INIT_ORDER, row_label("toy_ssl", "frozen", "emotion")]
from avssl.training.pretrain import build_objective
result["objective"] = build_objective(None, "toy_ssl")
print(json.dumps(result))
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("toy_method")
    (tmp / "toy_method.py").write_text(TOY_OBJECTIVE)
    env = env_with_venv()
    env["PYTHONPATH"] = f"{tmp}:{env['PYTHONPATH']}"
    res = subprocess.run([sys.executable, "-c", CHECKS.format(register=REGISTER)], capture_output=True, text=True,
                         env=env, cwd=tmp)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_config_accepts_the_new_method_as_method_and_init(toy):
    assert toy["validated"] == [["raven", "toy_ssl"], ["scratch", "toy_ssl"]]
    assert "toy_ssl" in toy["not_pretrained"] and "pretrain.methods" in toy["not_pretrained"]
    assert "pretrain.methods" in toy["unknown"] and "'toy_ssl'" in toy["unknown"]


def test_the_grid_pretrains_it_and_fine_tunes_from_it(toy):
    assert toy["pretrain_jobs"] == [{"method": "raven"}, {"method": "toy_ssl"}]
    assert toy["pretrain_params"] == ["study.seed", "train", "shukla"]
    # an audio-only encoder: no vsr job; both modes (no fixed mode); frozen reads the `features` stage
    assert toy["finetune_jobs"] == [["emotion", "scratch", "finetuned"], ["emotion", "toy_ssl", "finetuned"],
                                    ["emotion", "toy_ssl", "frozen"], ["vsr", "scratch", "finetuned"]]
    assert toy["feature_jobs"] == [{"init": "toy_ssl"}]
    assert toy["dvc_pretrain"] == ["raven", "toy_ssl"]


def test_cli_report_and_dispatch_know_it(toy):
    assert toy["cli"] == ["toy_ssl", "toy_ssl"]
    assert "toy_ssl (a toy method)" in toy["pretrain_help"]
    order, label = toy["report"]
    assert order[-1] == "toy_ssl" and label == "Toy SSL, frozen"
    assert toy["objective"] == "objective of toy_ssl"
