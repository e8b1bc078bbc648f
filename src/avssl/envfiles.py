"""requirements.lock -> conda/*.yaml: the venv and the conda environments come from one pinned list.

`make lock` re-pins (pip freeze of a venv built from requirements.in) and regenerates the conda files;
tests/test_environment.py fails when the lock and the conda files disagree.

The lock is the developer's environment: every job's packages plus the tools that drive the jobs
(Snakemake and its SLURM plugin, DVC, pytest). A job's conda environment needs only what `python -m avssl`
imports, so each env holds the dependency closure of the job packages (read from the installed packages'
metadata, so the closure is exactly what pip resolved for the lock), at the lock's versions:

- ``avssl`` (CPU stages): torch/torchaudio ``+cpu`` builds from PyTorch's CPU wheel index (PyPI's Linux torch
  is the CUDA 13 build: ~3 GB of nvidia-* wheels a CPU job never loads). The PyTorch conda channel stopped at
  torch 2.5, so the lock's 2.11 comes through pip, as in the venv.
- ``avssl-gpu`` (pretrain, finetune): PyPI's CUDA 13 build with its nvidia-*/cuda-* runtime and triton, exactly
  the lock's pins.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
ENVS = {
    "avssl": "CPU stages (synthesis, preprocessing, evaluation, report)",
    "avssl-gpu": "training stages (pretrain, finetune)",
}
LOCK_HEADER = (
    "# Exact environment of avssl (pip freeze of a venv built from requirements.in with Python 3.11).\n"
    "# Regenerate with `make lock`; conda/*.yaml derive from this file (tests/test_environment.py).\n"
)
# Drive the jobs, never imported by one: in the lock (and the venv), not in the jobs' conda envs.
TOOLS = ("snakemake", "snakemake-executor-plugin-slurm", "dvc", "ruamel-yaml-clib", "pytest", "pytest-timeout")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_LOCAL = "+cpu"  # local version label of the CPU index's torch/torchaudio wheels
TORCH = ("torch", "torchaudio")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def is_cuda(name: str) -> bool:
    """Packages of the CUDA build of torch (what a CPU environment must not install)."""
    name = normalize(name)
    return name.startswith(("nvidia-", "cuda-")) or name == "triton"


def read_pins(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def pin_name(pin: str) -> str:
    return normalize(pin.split("==", 1)[0])


def job_packages(requirements_in: str) -> list[str]:
    """The direct requirements of the jobs: requirements.in without the tools."""
    names = [normalize(re.split(r"[=<>!~\[;\s]", line, maxsplit=1)[0]) for line in read_pins(requirements_in)]
    return [n for n in names if n not in TOOLS]


def closure(roots: list[str], locked: set[str]) -> set[str]:
    """Every package the roots need (extras and environment markers honoured, as pip resolved them).

    Requirements outside the lock (pip, setuptools: `pip freeze` leaves them out) are not followed.
    """
    from packaging.requirements import Requirement

    seen: set[str] = set()
    extras_done: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [(normalize(r), "") for r in roots]
    while todo:
        name, extra = todo.pop()
        if name not in locked or (name, extra) in extras_done:
            continue
        extras_done.add((name, extra))
        seen.add(name)
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": extra}):
                continue
            dep = normalize(req.name)
            todo += [(dep, "")] + [(dep, e) for e in sorted(req.extras)]
    return seen


def env_pins(pins: list[str], name: str, requirements_in: str) -> list[str]:
    """The lock's pins a job environment installs (lock order); ``+cpu`` torch in the CPU env."""
    by_name = {pin_name(p): p for p in pins}
    needed = closure(job_packages(requirements_in), set(by_name))
    out = []
    for pin in pins:
        key = pin_name(pin)
        if key not in needed:
            continue
        if name == "avssl":
            if is_cuda(key):
                continue
            if key in TORCH:
                pin += CPU_LOCAL
        out.append(pin)
    return out


def render_conda(pins: list[str], name: str, requirements_in: str) -> str:
    lines = [
        f"# Generated from requirements.lock by `make conda` ({ENVS[name]}). Do not edit by hand.",
        "# The rules add the repository's src/ to PYTHONPATH, so avssl itself need not be installed here.",
        "# Only what the jobs import: Snakemake, DVC and pytest stay in the environment that drives them.",
        f"name: {name}",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    if name == "avssl":
        lines += [f"      # torch/torchaudio {CPU_LOCAL} (no CUDA libraries) come from PyTorch's CPU wheel index",
                  f"      - --extra-index-url {CPU_INDEX}"]
    lines += [f"      - {pin}" for pin in env_pins(pins, name, requirements_in)]
    return "\n".join(lines) + "\n"


def conda_pins(text: str) -> list[str]:
    """The pip pins listed in a conda env file rendered by :func:`render_conda` (options left out)."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == "- pip:":
            inside = True
            continue
        if inside and line.startswith("      - ") and not line.strip()[2:].startswith("-"):
            out.append(line.strip()[2:])
    return out


def freeze() -> None:
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
    ).stdout
    pins = sorted(
        (p for p in read_pins(frozen) if not p.startswith(("-e ", "avssl"))), key=lambda p: p.lower()
    )
    LOCK.write_text(LOCK_HEADER + "\n".join(pins) + "\n")


def write_conda() -> None:
    pins = read_pins(LOCK.read_text())
    requirements_in = (REPO / "requirements.in").read_text()
    for name in ENVS:
        (REPO / "conda" / f"{name}.yaml").write_text(render_conda(pins, name, requirements_in))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--freeze", action="store_true", help="rewrite requirements.lock from this venv")
    ap.add_argument("--conda", action="store_true", help="rewrite conda/*.yaml from requirements.lock")
    args = ap.parse_args()
    if args.freeze:
        freeze()
    if args.conda:
        write_conda()


if __name__ == "__main__":
    main()
