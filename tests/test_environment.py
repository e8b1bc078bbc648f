"""One pinned environment: requirements.lock; the venv (Makefile) and conda/*.yaml derive from it."""

from __future__ import annotations

import re
from pathlib import Path

from avssl.envfiles import ENVS, conda_pins, read_pins, render_conda

REPO = Path(__file__).resolve().parents[1]


def lock_pins() -> dict[str, str]:
    pins = {}
    for pin in read_pins((REPO / "requirements.lock").read_text()):
        name, version = pin.split("==")
        pins[name.lower().replace("_", "-")] = version
    return pins


def test_lock_pins_every_package_exactly():
    for pin in read_pins((REPO / "requirements.lock").read_text()):
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=\s]+", pin), pin


def test_direct_dependencies_are_in_the_lock_at_their_pinned_versions():
    lock = lock_pins()
    for line in read_pins((REPO / "requirements.in").read_text()):
        name, _, version = line.partition("==")
        key = name.lower().replace("_", "-")
        assert key in lock, f"{name} missing from requirements.lock (run `make lock`)"
        if version:
            assert lock[key] == version, f"{name}: requirements.in {version} != lock {lock[key]}"
    assert lock["torch"] == "2.11.0" and lock["torchaudio"] == "2.11.0"
    assert lock["mlflow"].startswith("3.17") and lock["snakemake"].startswith("9.")
    assert lock["opencv-python-headless"].startswith("4."), "OpenCV 5 has no Haar cascades"


def test_conda_envs_are_derived_from_the_lock():
    pins = read_pins((REPO / "requirements.lock").read_text())
    for name in ENVS:
        text = (REPO / "conda" / f"{name}.yaml").read_text()
        assert conda_pins(text) == pins, f"conda/{name}.yaml is stale (run `make conda`)"
        assert text == render_conda(pins, name)
        assert "python=3.11" in text


def test_every_rule_names_an_existing_conda_env():
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        for rule in re.findall(r"^rule (\w+):", text, flags=re.M):
            block = text.split(f"rule {rule}:", 1)[1].split("\nrule ", 1)[0]
            if "shell:" in block:
                assert re.search(r"conda:\s+(CPU_ENV|GPU_ENV)", block), f"{smk.name}:{rule} has no conda env"


def test_the_two_readme_commands_and_ci():
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    ci = (REPO / ".ci/run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    makefile = (REPO / "Makefile").read_text()
    assert "-r requirements.lock" in makefile
