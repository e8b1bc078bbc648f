"""Shared test fixtures: the repo root, the venv binaries, and a quiet torch."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# RAVEn encoders small enough for CPU unit tests (`RavenParams(**RAVEN_TINY)`).
RAVEN_TINY = dict(size="custom", layers=2, adim=64, heads=4, ffn=256, frontend_width=8, predictor_width=64,
                  predictor_heads=4, predictor_ffn=256)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def tool(name: str) -> str:
    """A console script of the running environment (snakemake, dvc, avssl)."""
    path = BIN / name
    return str(path) if path.exists() else name


def env_with_venv() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def copy_repo(dest: Path) -> Path:
    """A clean copy of the checkout (tracked + untracked-not-ignored files), made a git repo of its own
    so runs inside it record a commit (what `avssl reproduce` checks)."""
    import subprocess

    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    dest.mkdir(parents=True, exist_ok=True)
    for name in filter(None, files):
        src = REPO / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
            target.chmod(src.stat().st_mode)
    git = ["git", "-c", "user.name=avssl-test", "-c", "user.email=test@avssl.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(git + ["add", "-A"], cwd=dest, check=True)
    subprocess.run(git + ["commit", "-qm", "test copy"], cwd=dest, check=True)
    return dest


def inject_broken_clips(synth: Path) -> dict[str, str]:
    """Add the kinds of bad input users have to a finished corpus; returns clip_id -> expected reject reason
    keyword."""
    import csv

    mp4s = sorted(synth.glob("*.mp4"))
    donor = mp4s[0].stem
    # truncated video
    (synth / "broken_video.mp4").write_bytes((synth / f"{donor}.mp4").read_bytes()[:2000])
    (synth / "broken_video.wav").write_bytes((synth / f"{donor}.wav").read_bytes())
    # empty audio next to a good video
    (synth / "empty_audio.mp4").write_bytes((synth / f"{donor}.mp4").read_bytes())
    (synth / "empty_audio.wav").write_bytes(b"")
    # files without a metadata row
    (synth / "no_metadata.mp4").write_bytes((synth / f"{donor}.mp4").read_bytes())
    (synth / "no_metadata.wav").write_bytes((synth / f"{donor}.wav").read_bytes())
    # a metadata row without files
    with open(synth / "metadata.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    extra = []
    for cid in ("broken_video", "empty_audio", "missing_files"):
        row = dict(rows[0], clip_id=cid)
        extra.append(row)
    with open(synth / "metadata.csv", "a", newline="") as fh:
        csv.DictWriter(fh, fieldnames=fields).writerows(extra)
    return {"broken_video": "video", "empty_audio": "audio", "no_metadata": "metadata", "missing_files": "file"}


@pytest.fixture(scope="session")
def tiny_dag(tmp_path_factory) -> Path:
    """The tiny preset through snakemake in a temporary copy (with broken input injected after synthesis).

    Returns the copy's `.test` folder; `.test/injected.json` lists the injected clips.
    """
    import json
    import subprocess

    reuse = os.environ.get("AVSSL_TEST_TINY_DAG")  # developers: point at a finished run's .test to iterate
    if reuse:
        return Path(reuse)
    root = copy_repo(tmp_path_factory.mktemp("tiny") / "repo")
    work = root / ".test"
    env = env_with_venv()
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = str(root / "src")
    smk = [tool("snakemake"), "--cores", "2", "--directory", ".test"]
    first = subprocess.run(smk + ["synthesize"], cwd=root, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    injected = inject_broken_clips(work / "data" / "synth")
    (work / "injected.json").write_text(json.dumps(injected))
    full = subprocess.run(smk, cwd=root, env=env, capture_output=True, text=True)
    (work / "snakemake.out").write_text(full.stdout + full.stderr)
    assert full.returncode == 0, full.stdout[-5000:] + full.stderr[-5000:]
    return work


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest single-threaded, and the test machine is shared: avoid oversubscription.
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def env_for_copy(root: Path) -> dict:
    """Environment to run a repository copy's own code: the venv's tools first, the copy's `src` on the path, and
    no inherited MLflow store (each copy keeps its own)."""
    env = env_with_venv()
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = str(root / "src")
    return env
