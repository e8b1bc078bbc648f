"""The `avssl` command line: fast help, clear errors before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from avssl.cli import build_parser
from tests.conftest import env_with_venv, modules_imported_by

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ["synth", "preprocess", "pretrain", "features", "encode", "index", "acquire", "params", "schema", "dvc-yaml"]


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "avssl", *args], capture_output=True, text=True, cwd=cwd, env=env_with_venv()
    )


def test_help_does_not_import_torch_or_mlflow():
    code = (
        "import contextlib, io\n"
        "from avssl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
    )
    assert modules_imported_by(code, ("torch", "mlflow", "cv2", "pydantic")) == []


@pytest.mark.parametrize("stage", STAGES)
def test_every_subcommand_explains_itself(stage):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[stage]
    text = sub.format_help()
    assert len(text) > 200
    if stage in ("synth", "preprocess", "pretrain", "features"):
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


@pytest.mark.parametrize("how", ["default", "sqlite", "file"])
def test_reproduce_unknown_run_creates_nothing(tmp_path, monkeypatch, capsys, how):
    from avssl.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = {"default": [], "sqlite": ["--tracking-uri", f"sqlite:///{tmp_path}/db/mlflow.db"],
           "file": ["--tracking-uri", str(tmp_path / "mlruns")]}[how]
    assert main(["reproduce", "0123456789abcdef", *uri]) == 1
    err = capsys.readouterr().err
    assert "run 0123456789abcdef is unknown" in err and "nothing was created" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_disk_full_in_any_stage_is_one_line(tmp_path, monkeypatch, capsys):
    """ENOSPC from deep inside a stage (here: writing the params YAML) -> one line naming the file; --verbose adds
    the traceback."""
    import errno

    import avssl.cli as cli

    target = tmp_path / "out.yaml"

    def full(text, output):
        raise OSError(errno.ENOSPC, "No space left on device", str(output))

    monkeypatch.setattr(cli, "_emit", full)
    argv = ["params", "--params", "params.yaml", "--output", str(target)]
    monkeypatch.chdir(REPO_ROOT)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"avssl params: error: disk full while writing {target}") and "free space" in err
    assert len(err.strip().splitlines()) == 1
    assert cli.main(["--verbose", *argv]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_bugs_keep_their_traceback(monkeypatch):
    import avssl.cli as cli

    monkeypatch.setattr(cli, "_emit", lambda text, output: 1 / 0)
    monkeypatch.chdir(REPO_ROOT)
    with pytest.raises(ZeroDivisionError):
        cli.main(["params", "--params", "params.yaml"])


def test_failure_messages_see_through_wrappers():
    """What a tracking server outage looks like from MLflow: requests' ConnectionError (an OSError) wrapped."""
    import errno

    from avssl.failures import failure_message

    class ConnectionError(OSError):  # noqa: A001 - named like requests.exceptions.ConnectionError
        pass

    try:
        try:
            raise ConnectionError("HTTPConnectionPool(host='mlflow', port=5000): Max retries exceeded")
        except OSError as inner:
            raise RuntimeError("API request to endpoint /api/2.0/mlflow/runs/create failed") from inner
    except RuntimeError as exc:
        assert failure_message(exc).startswith("network error: ConnectionError: HTTPConnectionPool")
    assert failure_message(OSError(errno.ENOSPC, "No space left on device", "/x/y")).startswith(
        "disk full while writing /x/y")
    assert failure_message(PermissionError(errno.EACCES, "Permission denied", "/root/z")).startswith(
        "permission denied: /root/z")
    assert failure_message(KeyError("bug")) is None
