"""The `avssl` command line: fast help, clear errors before any work."""

from __future__ import annotations

import subprocess
import sys

import pytest

from avssl.cli import build_parser
from tests.conftest import env_with_venv

STAGES = ["synth", "preprocess", "pretrain", "encode", "index", "acquire", "params", "schema", "dvc-yaml"]


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "avssl", *args], capture_output=True, text=True, cwd=cwd, env=env_with_venv()
    )


def test_help_does_not_import_torch_or_mlflow():
    code = (
        "import sys, contextlib, io\n"
        "from avssl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        ""
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "heavy = [m for m in ('torch', 'mlflow', 'cv2', 'pydantic') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_with_venv())
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_every_subcommand_explains_itself(stage):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[stage]
    text = sub.format_help()
    assert len(text) > 200
    if stage in ("synth", "preprocess", "pretrain"):
        assert "params read:" in text and "--params" in text and "--output" in text


def test_bad_params_stop_before_any_work(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("synth:\n  n_speakers: -1\n")
    out_dir = tmp_path / "synth"
    res = run_cli("synth", "--params", str(bad), "--output", str(out_dir), "--no-track")
    assert res.returncode == 2
    assert "synth.n_speakers" in res.stderr and ">= 3" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out_dir.exists()


def test_set_override_is_validated(tmp_path):
    res = run_cli("params", "--params", "params.yaml", "--set", "preprocess.crop_size=big")
    assert res.returncode == 2 and "preprocess.crop_size" in res.stderr


def test_params_command_prints_resolved_yaml():
    res = run_cli("params", "--set", "synth.n_speakers=5")
    assert res.returncode == 0, res.stderr
    assert "n_speakers: 5" in res.stdout
