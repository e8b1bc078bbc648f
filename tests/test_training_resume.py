"""Kill a real training process (SIGKILL at a random moment, SIGTERM = SLURM preemption), re-run it, and
check the final weights are bit-identical to an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "test_training_fakes.py"
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'tests'}", "OMP_NUM_THREADS": "1"}
ARGS = ["--steps", "16", "--checkpoint-every", "3"]


def _run(out, dump, extra=(), **kw):
    return subprocess.Popen([sys.executable, str(RUNNER), str(out), "--dump", str(dump), *ARGS, *extra], env=ENV, **kw)


def _wait_for_step(ckpt, min_step, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "trainer finished before it could be interrupted"
        if ckpt.is_file():
            try:
                if torch.load(ckpt, weights_only=True)["step"] >= min_step:
                    return
            except Exception:  # being replaced right now: try again
                pass
        time.sleep(0.05)
    raise TimeoutError


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("full")
    assert _run(d / "out", d / "w.pt").wait(timeout=120) == 0
    return torch.load(d / "w.pt")


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_sigkill_anywhere_then_rerun_is_bit_identical(uninterrupted, tmp_path):
    ckpt = tmp_path / "out" / "checkpoints" / "last.pt"
    proc = _run(tmp_path / "out", tmp_path / "w.pt", ["--sleep", "0.15"])
    _wait_for_step(ckpt, 4, proc)
    time.sleep(0.2)  # land somewhere between checkpoints (or inside a save)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    assert 4 <= killed_at < 16
    assert _run(tmp_path / "out", tmp_path / "w.pt").wait(timeout=120) == 0
    assert _same(torch.load(tmp_path / "w.pt"), uninterrupted)


@pytest.mark.slow
def test_sigterm_writes_checkpoint_and_exits_then_resumes(uninterrupted, tmp_path):
    ckpt = tmp_path / "out" / "checkpoints" / "last.pt"
    proc = _run(tmp_path / "out", tmp_path / "w.pt", ["--sleep", "0.15"], stdout=subprocess.PIPE, text=True)
    _wait_for_step(ckpt, 3, proc)
    time.sleep(0.25)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 143
    step = int(out.split("PREEMPTED")[1].split()[0])
    assert torch.load(ckpt, weights_only=True)["step"] == step  # checkpoint of the step it stopped at
    assert _run(tmp_path / "out", tmp_path / "w.pt").wait(timeout=120) == 0
    assert _same(torch.load(tmp_path / "w.pt"), uninterrupted)
