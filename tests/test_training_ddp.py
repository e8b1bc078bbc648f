"""torchrun with 2 CPU processes (gloo, synchronised BatchNorm) matches 1 process with the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from avssl.training.distributed import CPUSyncBatchNorm, convert_sync_batchnorm

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "test_training_fakes.py"
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'tests'}", "OMP_NUM_THREADS": "1"}
# No dropout / masking: those draw per-process random numbers. Equal lengths: no padding differences.
ARGS = ["--steps", "6", "--checkpoint-every", "100", "--dropout", "0", "--mask-prob", "0", "--equal-lengths", "10",
        "--clips", "30", "--batch-frames", "60"]  # fmt: skip


def test_convert_sync_batchnorm_keeps_state_and_single_process_math():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 1), torch.nn.BatchNorm1d(3))
    x = torch.randn(4, 2, 5)
    ref = m(x)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    torch.manual_seed(0)
    m2 = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 1), torch.nn.BatchNorm1d(3))
    m2 = convert_sync_batchnorm(m2, torch.device("cpu"))
    assert isinstance(m2[1], CPUSyncBatchNorm)
    torch.testing.assert_close(m2(x), ref)
    assert m2.state_dict().keys() == state.keys()
    for k in state:
        torch.testing.assert_close(m2.state_dict()[k], m.state_dict()[k])


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    one = subprocess.run([sys.executable, str(RUNNER), str(tmp_path / "o1"), "--dump", str(tmp_path / "w1.pt"), *ARGS],
                         env=ENV, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(RUNNER),
         str(tmp_path / "o2"), "--dump", str(tmp_path / "w2.pt"), *ARGS],
        env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    w1, w2 = torch.load(tmp_path / "w1.pt"), torch.load(tmp_path / "w2.pt")
    assert w1.keys() == w2.keys()
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=1e-4, atol=1e-5, msg=k)
    import json

    m1 = json.loads((tmp_path / "w1.pt.json").read_text())
    m2 = json.loads((tmp_path / "w2.pt.json").read_text())
    assert m2["world_size"] == 2 and m1["world_size"] == 1 and m1["steps"] == m2["steps"] == 6
    assert abs(m1["train/loss"] - m2["train/loss"]) < 1e-4 * max(1.0, abs(m1["train/loss"]))
