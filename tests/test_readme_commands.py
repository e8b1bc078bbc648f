"""Every command in README's ```bash blocks runs verbatim from a fresh clone (as a dry run where it would work).

How each command is checked (the rules below; `OVERLAY` is the README's placeholder for each paper overlay):
- `snakemake ...` and `make ...`: run with `-n` added (plans every job, runs none); `--unlock` runs for real.
- `dvc repro`: `dvc dag` (parses dvc.yaml and plans every stage; `dvc repro --dry` cannot plan past a stage whose
  output does not exist yet, a DVC limitation).
- `avssl` commands that would do work: parsed by avssl's own argument parser and their params files loaded
  (what the command does before any work); cheap ones (`params`, `--help`) run for real.
- `export`: kept, so the following lines of the block see the variables.
The few commands that cannot run here are listed in SKIP with the reason.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_repo, env_with_venv

pytestmark = pytest.mark.slow

SKIP = {
    # needs a finished run's MLflow store (the run id is an example); tests/test_tracking.py covers reproduce
    "avssl reproduce 7ae9e90eae3a4051b1bc8279deafe9de": "needs the recorded run",
    # a web server that runs until stopped
    "mlflow ui --backend-store-uri sqlite:///mlflow.db": "long-running server",
}
NEEDS_CONDA = "--use-conda"  # checked only where `conda` is on PATH (it is not part of the locked environment)
WORK_COMMANDS = {"synth", "preprocess", "pretrain", "finetune", "evaluate", "report", "index", "acquire", "encode"}


def readme_commands() -> list[list[str]]:
    """Each ```bash block of README.md as a list of commands (comments and continuation comments dropped)."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    out = []
    for block in blocks:
        lines = [re.split(r"\s+#", line, maxsplit=1)[0].strip() for line in block.splitlines()]
        out.append([line for line in lines if line and not line.startswith("#")])
    return out


def _stage_names() -> list[str]:
    from avssl.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return [name for name in sub.choices if name in WORK_COMMANDS]


def _expand(command: str) -> list[str]:
    if "OVERLAY" in command:
        return [command.replace("OVERLAY", str(p.relative_to(REPO))) for p in sorted((REPO / "workflow/presets").glob("*.yaml"))]
    if "<stage>" in command:
        return [command.replace("<stage>", name) for name in _stage_names()]
    return [command]


def _as_check(command: str) -> str | None:
    """The shell line that checks `command` (None: checked in-process by avssl's parser)."""
    words = shlex.split(command)
    if words[0] == "snakemake" and "--unlock" not in words and "-n" not in words:
        return command + " -n"
    if words[0] == "make":
        return "make -n " + " ".join(words[1:])
    if words[:2] == ["dvc", "repro"]:
        return "dvc dag"
    if words[0] == "avssl" and words[1] in WORK_COMMANDS and "--help" not in words:
        return None
    return command


def _parse_only(command: str, root: Path) -> None:
    """What an avssl stage does before any work: parse the arguments and load + validate its params files."""
    import os

    from avssl.cli import build_parser
    from avssl.config import load_params

    args = build_parser().parse_args(shlex.split(command)[1:])
    cwd = os.getcwd()
    try:
        os.chdir(root)
        load_params(args.params or ["params.yaml"], getattr(args, "set", []))
    finally:
        os.chdir(cwd)


def test_readme_has_the_documented_blocks():
    flat = [c for block in readme_commands() for c in block]
    assert "snakemake --cores 2 --directory .test" in flat
    assert "snakemake --unlock --directory .test" in flat
    assert any(c.startswith("snakemake --profile workflow/profiles/slurm") for c in flat)


def test_every_readme_command_runs_verbatim_from_a_fresh_clone(tmp_path):
    root = copy_repo(tmp_path / "clone")
    env = env_with_venv()
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = str(root / "src")
    checked, failures, shell_checks = [], [], []
    for block in readme_commands():
        exports: list[str] = []
        for command in block:
            if command.startswith("export "):
                exports.append(command)
                continue
            if command in SKIP or (NEEDS_CONDA in command and shutil.which("conda", path=env["PATH"]) is None):
                continue
            for variant in _expand(command):
                line = _as_check(variant)
                if line is None:
                    try:
                        _parse_only(variant, root)
                    except SystemExit as exc:
                        failures.append(f"{variant}: argument error {exc}")
                    except Exception as exc:  # noqa: BLE001 (report every command, not just the first)
                        failures.append(f"{variant}: {exc}")
                    checked.append(variant)
                    continue
                shell_checks.append((line, " && ".join([*exports, line])))
                checked.append(variant)

    def run(check: tuple[str, str]) -> str | None:
        line, script = check
        proc = subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=600)
        return None if proc.returncode == 0 else f"{line} (rc {proc.returncode}):\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}"

    # dry runs plan and lock nothing: two at a time (one per core), every failure reported
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures += [f for f in pool.map(run, shell_checks) if f]
    assert not failures, "\n\n".join(failures)
    assert len(checked) >= 15, checked
