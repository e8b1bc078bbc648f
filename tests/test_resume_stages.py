"""Exact resume of every training stage: killed (SIGKILL) or pre-empted (SIGTERM) at several points, re-run
until done -> the same final weights (bit for bit), metrics and config.json as an uninterrupted run, on CPU.

Stages: the four pre-training methods, and fine-tuning of every task kind (classification: emotion with a
frozen audio encoder (feature cache) and words with noise augmentation (a numpy random stream); affect
regression; ASR and VSR with checkpoint averaging). Kill points are deterministic (tests/resume_harness.py):
inside a step between checkpoints, right after a checkpoint, at the end of an epoch whose snapshot is averaged,
and after training before averaging/export. One subprocess gets a real SIGKILL and a real SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from avssl.training.loop import Preempted
from resume_harness import Crash, run_stage

ROOT = Path(__file__).resolve().parents[1]
ASR = "finetune:asr:scratch:finetuned"  # 4 epochs x 5 steps; average_last=3: snapshots after epochs 1, 2 (0-based)
TIMING = ("seconds", "frames_per_s", "perf/")

# (when, step, signal): see resume_harness. ASR steps: epoch e = steps 5e+1 .. 5e+5, checkpoints every 2 steps.
CHAINS = {
    "pretrain:raven": [("step", 3, "KILL"), ("step", 4, "TERM"), ("saved", -1, "KILL")],
    "pretrain:shukla_visual": [("step", 3, "KILL"), ("saved", 4, "TERM")],
    "pretrain:shukla_audio": [("step", 2, "TERM"), ("step", 5, "KILL")],
    "pretrain:shukla_multitask": [("saved", 2, "KILL"), ("step", 5, "TERM")],
    "finetune:emotion:random:frozen": [("step", 3, "KILL"), ("step", 7, "TERM"), ("saved", -1, "KILL")],
    "finetune:words_audio:random:finetuned": [("step", 6, "KILL"), ("step", 9, "TERM")],
    "finetune:affect:random:finetuned": [("saved", 4, "KILL"), ("step", 11, "TERM")],
    "finetune:vsr:scratch:finetuned": [("step", 11, "KILL"), ("step", 13, "TERM")],
    # before the window; snapshot of epoch 1 taken but not yet checkpointed; inside; after training
    ASR + "/kill": [("step", 3, "KILL"), ("step", 11, "KILL"), ("step", 13, "KILL"), ("saved", -1, "KILL")],
    ASR + "/term": [("step", 4, "TERM"), ("step", 11, "TERM"), ("step", 16, "TERM"), ("step", 20, "TERM")],
}
EXTRA = {"finetune:words_audio:random:finetuned": ["finetune.noise_augmentation.enabled=true"]}


def outputs(out: Path) -> dict:
    """What a user gets: weights, config.json, metrics.json (and pre-training's history), timing removed."""
    from safetensors.torch import load_file

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith(TIMING)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    res = {"weights": load_file(str(out / "model.safetensors"))}
    for name in ("config.json", "metrics.json", "history.json"):
        if (out / name).is_file():
            res[name] = strip(json.loads((out / name).read_text()))
    return res


def assert_identical(got: dict, want: dict) -> None:
    assert got["weights"].keys() == want["weights"].keys()
    different = [k for k in want["weights"] if not torch.equal(got["weights"][k], want["weights"][k])]
    assert not different, f"weights differ: {different[:5]}"
    for name in ("config.json", "metrics.json", "history.json"):
        assert got.get(name) == want.get(name), name


_reference: dict[str, dict] = {}


def reference(stage: str, tmp_path_factory) -> dict:
    if stage not in _reference:
        out = tmp_path_factory.mktemp("reference") / "out"
        run_stage(stage, out, extra=EXTRA.get(stage, ()))
        _reference[stage] = outputs(out)
    return _reference[stage]


def run_chain(stage: str, kills: list, out: Path) -> None:
    for kill in kills:
        with pytest.raises((Crash, Preempted)):
            run_stage(stage, out, kill, extra=EXTRA.get(stage, ()))
        assert (out / "checkpoints" / "last.pt").is_file(), kill
        assert not (out / "model.safetensors").exists()
    run_stage(stage, out, extra=EXTRA.get(stage, ()))


@pytest.mark.slow
@pytest.mark.parametrize("chain", list(CHAINS))
def test_killed_and_rerun_stage_is_bit_identical(chain, tmp_path, tmp_path_factory):
    stage = chain.split("/")[0]
    want = reference(stage, tmp_path_factory)
    run_chain(stage, CHAINS[chain], tmp_path / "out")
    got = outputs(tmp_path / "out")
    assert_identical(got, want)
    assert not (tmp_path / "out" / "checkpoints").exists()  # removed after export (snapshots included)
    if stage == ASR:
        assert want["config.json"]["averaged_snapshots"] == 3 and want["metrics.json"]["averaged_snapshots"] == 3
    if stage.startswith("finetune:emotion"):  # frozen audio encoder: the per-clip feature cache was used
        assert want["config.json"]["mode"] == "frozen"


@pytest.mark.slow
def test_real_sigkill_and_sigterm_of_a_finetune_process(tmp_path, tmp_path_factory):
    """The ASR job as a subprocess: SIGKILL right after the epoch-1 snapshot (before it is checkpointed), then
    SIGTERM (SLURM pre-emption: exit 143 after a checkpoint) inside the averaging window, then to the end."""
    want = reference(ASR, tmp_path_factory)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, str(ROOT / "tests" / "resume_harness.py"), ASR, str(out)]
    killed = subprocess.run(cmd + ["--kill", "step:11:KILL"], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"] == 10
    termed = subprocess.run(cmd + ["--kill", "step:13:TERM"], env=env, capture_output=True, text=True, timeout=120)
    assert termed.returncode == 143 and "PREEMPTED 13" in termed.stdout, termed.stderr[-2000:]
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    # epoch 0 is before the averaging window (final epoch 3, k = 3: epochs 1 and 2), so it was never written
    assert state["step"] == 13 and state["stateful"]["snapshots"]["epochs"] == [1]
    run_stage(ASR, out)
    assert_identical(outputs(out), want)


def test_epoch_snapshot_files_outlive_the_checkpoint_that_needs_them(tmp_path):
    """Snapshots are files; one is deleted only when no written checkpoint lists it; averaging matches
    average_state_dicts."""
    from avssl.tasks.checkpoint_average import EpochSnapshots, average_state_dicts

    model = torch.nn.Linear(3, 2)
    snaps = EpochSnapshots(3, tmp_path)
    for epoch in range(4):
        with torch.no_grad():
            model.weight.mul_(1.5).add_(0.1)
        snaps.on_epoch_end(epoch, model)
        if epoch == 1:
            written = snaps.state_dict()  # a checkpoint after epoch 1 lists epochs 0 and 1
    names = sorted(p.name for p in tmp_path.glob("snapshot-epoch*"))
    assert snaps.epochs == [2, 3] and len(names) == 4  # 0 and 1 kept for that checkpoint
    resumed = EpochSnapshots(3, tmp_path)
    resumed.load_state_dict(written)  # a job killed after epoch 3 resumes from it: its files are there
    assert resumed.epochs == [0, 1]
    snaps.state_dict()  # a newer checkpoint (epochs 2, 3) is written ...
    snaps.on_epoch_end(4, model)  # ... so the next epoch may drop 0 and 1
    assert sorted(p.name for p in tmp_path.glob("snapshot-epoch*")) == [
        "snapshot-epoch00002.safetensors", "snapshot-epoch00003.safetensors", "snapshot-epoch00004.safetensors"]
    with torch.no_grad():
        model.weight.add_(1.0)
    final = {k: v.clone() for k, v in model.state_dict().items()}
    want = average_state_dicts([snaps_state(tmp_path, 3), snaps_state(tmp_path, 4), final])
    assert snaps.average_into(model) == 3
    assert all(torch.equal(model.state_dict()[k], want[k]) for k in want)
    with pytest.raises(ValueError, match="missing"):
        EpochSnapshots(3, tmp_path).load_state_dict({"k": 3, "epochs": [0, 1]})


def test_epoch_snapshots_with_known_final_epoch_write_only_the_kept_ones(tmp_path):
    """Knowing the epoch training ends in, only the last k - 1 epochs before it are written; the kept epochs
    and the average are those of a run that writes every epoch."""
    from avssl.tasks.checkpoint_average import EpochSnapshots

    written = []
    results = []
    for final in (None, 6):
        model = torch.nn.Linear(3, 2)
        with torch.no_grad():
            model.weight.fill_(0.5)
        snaps = EpochSnapshots(3, tmp_path / str(final), final_epoch=final)
        seen = set()
        for epoch in range(6):  # training ends in epoch 6: no snapshot of it
            with torch.no_grad():
                model.weight.mul_(1.5).add_(0.1)
            snaps.on_epoch_end(epoch, model)
            seen |= {p.name for p in (tmp_path / str(final)).glob("snapshot-epoch*")}
        written.append(len(seen))
        results.append((snaps.epochs, snaps.average_into(model), model.weight.detach().clone()))
    assert written == [6, 2]
    assert results[0][:2] == results[1][:2] == ([4, 5], 3) and torch.equal(results[0][2], results[1][2])


def snaps_state(directory: Path, epoch: int) -> dict:
    from safetensors.torch import load_file

    return load_file(str(directory / f"snapshot-epoch{epoch:05d}.safetensors"))
