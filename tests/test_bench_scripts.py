"""The GPU check cannot rot unnoticed on CPU-only machines: its shell script parses, refuses clearly without a
GPU, its overlay is valid params, and its throughput/MFU script runs end to end in a CPU smoke mode."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.sh"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_check_script_parses():
    res = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_check_fails_clearly_without_python(tmp_path):
    env = {**os.environ, "PYTHON": str(tmp_path / "no-such-python"), "WORK": str(tmp_path / "w")}
    res = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 2
    assert "no Python found" in res.stderr and "PYTHON=" in res.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_check_fails_clearly_without_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the script would run the whole check")
    env = {**os.environ, "PYTHON": sys.executable, "WORK": str(tmp_path / "w")}
    res = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "sees no CUDA device" in res.stderr
    assert not (tmp_path / "w" / "tiny").exists()  # nothing started


def test_gpu_overlay_is_valid_on_the_tiny_preset():
    from avssl.config import load_params

    p = load_params([ROOT / ".test" / "params.yaml", ROOT / "bench" / "gpu_overlay.yaml"])
    assert (p.train.device, p.train.bf16, p.train.compile, p.train.deterministic) == ("cuda", True, True, False)
    tiny = load_params([ROOT / ".test" / "params.yaml"])
    assert p.model_dump(exclude={"train"}) == tiny.model_dump(exclude={"train"})  # only the train keys change


def test_pretrain_throughput_script_cpu_smoke(tmp_path):
    bench = _load("gpu_pretrain_mfu")
    out = tmp_path / "r.json"
    args = ["--device", "cpu", "--size", "tiny", "--steps", "2", "--warmup", "0", "--batch", "2", "--frames", "12",
            "--threads", "1", "--peak-tflops", "0.5", "--json", str(out)]  # fmt: skip
    res = bench.main(args)
    assert json.loads(out.read_text()) == pytest.approx(res)
    assert res["frames_per_step"] == 12 + 11  # uneven lengths, as a frame-count batch
    assert res["tflop_per_step"] > 0 and res["step_s"] > 0
    assert res["frames_per_s"] == pytest.approx(res["frames_per_step"] / res["step_s"])
    assert res["mfu"] == pytest.approx(res["achieved_tflops"] / 0.5)
    assert math.isfinite(res["first_loss"]) and math.isfinite(res["last_loss"])


def test_flop_count_grows_with_the_batch():
    """FLOPs come from counting the step, not from a constant: twice the clips, about twice the FLOPs."""
    bench = _load("gpu_pretrain_mfu")
    base = ["--device", "cpu", "--size", "tiny", "--steps", "1", "--warmup", "0", "--frames", "12", "--threads", "1"]
    one = bench.main(base + ["--batch", "1"])["tflop_per_step"]
    two = bench.main(base + ["--batch", "2"])["tflop_per_step"]
    assert 1.6 < two / one < 2.1
    assert one > 0


@pytest.mark.slow
def test_pretrain_throughput_script_ddp_path_under_torchrun(tmp_path):
    """--ddp (SyncBatchNorm + DistributedDataParallel) under torchrun with one process, gloo on CPU: the path
    gpu_check.sh runs on NCCL."""
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1",
           str(ROOT / "bench" / "gpu_pretrain_mfu.py"), "--device", "cpu", "--size", "tiny", "--steps", "1",
           "--warmup", "0", "--batch", "2", "--frames", "12", "--ddp", "--json", str(out)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["ddp"] == {"rank": 0, "world_size": 1} and math.isfinite(r["last_loss"]) and r["tflop_per_step"] > 0


def test_bench_raven_official_path_is_checked(tmp_path):
    bench = _load("bench_raven")
    with pytest.raises(SystemExit, match="ahaliassos/raven"):
        bench.import_official(str(tmp_path))
