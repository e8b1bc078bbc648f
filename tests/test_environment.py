"""One pinned environment: requirements.lock; the venv (Makefile) and conda/*.yaml derive from it."""

from __future__ import annotations

import re
from pathlib import Path

from avssl.envfiles import CPU_INDEX, ENVS, TOOLS, conda_pins, is_cuda, normalize, pin_name, read_pins, render_conda

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


def _env_text(name: str) -> str:
    return (REPO / "conda" / f"{name}.yaml").read_text()


def test_conda_envs_are_derived_from_the_lock():
    pins = read_pins((REPO / "requirements.lock").read_text())
    requirements_in = (REPO / "requirements.in").read_text()
    for name in ENVS:
        text = _env_text(name)
        assert text == render_conda(pins, name, requirements_in), f"conda/{name}.yaml is stale (run `make conda`)"
        assert "python=3.11" in text
        env = conda_pins(text)
        # Every pin is the lock's, except the CPU env's `+cpu` label on torch/torchaudio.
        assert set(env) <= set(pins) | {p + "+cpu" for p in pins if pin_name(p) in ("torch", "torchaudio")}, name
        names = {pin_name(p) for p in env}
        assert not names & set(TOOLS), f"conda/{name}.yaml installs tools the jobs never import"


def test_cpu_env_has_no_cuda_and_gpu_env_has_the_locks_cuda_build():
    lock = lock_pins()
    cpu, gpu = conda_pins(_env_text("avssl")), conda_pins(_env_text("avssl-gpu"))
    assert not [p for p in cpu if is_cuda(pin_name(p))], "the CPU env pulls CUDA packages"
    assert "torch==2.11.0+cpu" in cpu and "torchaudio==2.11.0+cpu" in cpu
    assert f"- --extra-index-url {CPU_INDEX}" in _env_text("avssl")
    assert "download.pytorch.org" not in _env_text("avssl-gpu")
    gpu_cuda = {pin_name(p) for p in gpu if is_cuda(pin_name(p))}
    assert gpu_cuda == {n for n in lock if is_cuda(n)} and "triton" in gpu_cuda
    assert "torch==2.11.0" in gpu
    # Apart from the torch build, both envs install the same packages at the same versions.
    strip = {p.replace("+cpu", "") for p in cpu}
    assert strip == {p for p in gpu if not is_cuda(pin_name(p))}


def _third_party_imports() -> set[str]:
    import ast
    import sys

    top = set()
    for path in (REPO / "src/avssl").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                top |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top.add(node.module.split(".")[0])
    return {m for m in top if m not in sys.stdlib_module_names and m != "avssl"}


def test_job_envs_hold_every_package_the_code_imports():
    from importlib import metadata

    dists = metadata.packages_distributions()
    # Imported by helpers the jobs never run (the lock's tools: `avssl.envfiles --freeze` calls pip).
    tool_modules = {"snakemake", "dvc", "pytest"}
    for name in ENVS:
        names = {pin_name(p) for p in conda_pins(_env_text(name))}
        for module in sorted(_third_party_imports() - tool_modules):
            providers = {normalize(d) for d in dists.get(module, [])}
            assert providers, f"`import {module}` in src/avssl is not installed in the venv"
            assert providers & names, f"conda/{name}.yaml lacks {providers} (src/avssl imports {module})"


def test_rules_use_the_env_of_their_stage_role():
    """GPU stages of the stage table run in avssl-gpu, every other stage in the CPU env (both files exist)."""
    from avssl.stages import STAGES

    for st in STAGES:
        assert st.conda_env == ("avssl-gpu" if st.gpu else "avssl"), st.name
        assert (REPO / "conda" / f"{st.conda_env}.yaml").is_file(), st.name


def test_every_rule_names_a_conda_env():
    """Every rule that runs a command (the stage loop in stages.smk included) has a `conda:` directive."""
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        blocks = re.split(r"^\s*rule(?: \w+)?:", text, flags=re.M)[1:]
        for block in blocks:
            block = re.split(r"^\S", block, maxsplit=1, flags=re.M)[0]  # up to the next unindented line
            if "shell:" in block:
                assert re.search(r"conda:\s+(stage_conda\(\w+\.name\)|CPU_ENV|GPU_ENV)", block), smk.name
    assert re.search(r"conda:\s+stage_conda\(_stage\.name\)", (REPO / "workflow/rules/stages.smk").read_text())


def test_the_two_readme_commands_and_ci():
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    ci = (REPO / ".ci/run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    makefile = (REPO / "Makefile").read_text()
    assert "-r requirements.lock" in makefile
