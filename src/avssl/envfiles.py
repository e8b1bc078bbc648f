"""requirements.lock -> conda/*.yaml: the venv and the conda environments come from one pinned list.

`make lock` re-pins (pip freeze of a venv built from requirements.in) and regenerates the conda files;
tests/test_environment.py fails when the lock and the conda files disagree. The PyPI build of torch 2.11
is the CUDA 13 build and also runs on CPU, so both environments carry the same pins; the training rules use
`avssl-gpu` so a cluster can point that one at a site-specific CUDA build without touching the others.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
ENVS = {"avssl": "CPU stages (synthesis, preprocessing, report)", "avssl-gpu": "training stages (pretrain, finetune)"}
LOCK_HEADER = (
    "# Exact environment of avssl (pip freeze of a venv built from requirements.in with Python 3.11).\n"
    "# Regenerate with `make lock`; conda/*.yaml derive from this file (tests/test_environment.py).\n"
)


def read_pins(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def render_conda(pins: list[str], name: str) -> str:
    lines = [
        f"# Generated from requirements.lock by `make conda` ({ENVS[name]}). Do not edit by hand.",
        "# The rules add the repository's src/ to PYTHONPATH, so avssl itself need not be installed here.",
        f"name: {name}",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"      - {pin}" for pin in pins]
    return "\n".join(lines) + "\n"


def conda_pins(text: str) -> list[str]:
    """The pip pins listed in a conda env file rendered by :func:`render_conda`."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == "- pip:":
            inside = True
            continue
        if inside and line.startswith("      - "):
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
    for name in ENVS:
        (REPO / "conda" / f"{name}.yaml").write_text(render_conda(pins, name))


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
