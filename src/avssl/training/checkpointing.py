"""Resumable training state (not the encoder export format, see avssl.models.checkpoint).

One file, ``<dir>/last.pt``, holds everything a run needs to continue bit-identically: the objective's
state dict (students, EMA teachers, predictors, buffers), optimisers, schedulers, the sampler position
(epoch, batch index), every process's RNG states, the step, the metric history, caller state (e.g. the epoch
snapshots kept for checkpoint averaging) and a fingerprint of the settings that shape the trajectory. Writes
are atomic (temp file, fsync, rename): a job killed at any moment, even with SIGKILL during a save, leaves
either the previous checkpoint or the new one, never a torn file.

Loading never executes code from the file: the state is made of tensors and plain Python values only (no
numpy arrays, no objects), so it is read with ``torch.load(weights_only=True)``, whose unpickler refuses every
other type before constructing it. A planted or foreign ``last.pt`` (results folders may be shared) is
rejected with :class:`CheckpointError` instead of being run.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

LAST = "last.pt"
# Top-level keys every checkpoint written by the training loop has.
REQUIRED_KEYS = ("step", "epoch", "batch", "fingerprint", "objective", "optimizers", "per_rank", "history")


class CheckpointError(ValueError):
    """A checkpoint file that is not a valid avssl training checkpoint (foreign, planted, old or corrupt)."""


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


def save_checkpoint(directory: str | Path, state: dict) -> Path:
    return atomic_torch_save(state, Path(directory) / LAST)


def safe_load(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load`` that only reconstructs tensors and plain Python values (never runs code from the file).

    Raises :class:`CheckpointError` naming the file for anything else (a pickle of other objects, a truncated or
    foreign file) and saying how to recover: delete the checkpoint folder (training restarts from step 0).
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files: the error says more
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # UnpicklingError (disallowed global), RuntimeError (not a zip/torch file), EOFError...
        raise CheckpointError(
            f"{path}: not a valid avssl training checkpoint, refused without running anything from it "
            f"({_reason(exc)}). If you did not put it there, someone else may have. To restart this job from "
            f"scratch delete {path.parent}/ and re-run."
        ) from None


def _reason(exc: Exception) -> str:
    """The informative line of torch's error (its long advice to retry with weights_only=False is not ours)."""
    text = str(exc)
    found = re.search(r"WeightsUnpickler error: (.*?)(?:\. Please|\n|$)", text)
    line = found.group(1) if found else (text.strip().splitlines() or [type(exc).__name__])[0]
    line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()  # terminal colour codes
    return f"{type(exc).__name__}: {line[:300]}" if line else f"{type(exc).__name__}, truncated or not a torch file"


def load_checkpoint(directory: str | Path, map_location: Any = "cpu") -> dict | None:
    """The last complete checkpoint in ``directory``, or None. Stale temp files from killed saves are removed.

    Raises :class:`CheckpointError` when ``last.pt`` is not a checkpoint this loop wrote (see :func:`safe_load`).
    """
    directory = Path(directory)
    for stale in directory.glob(f".{LAST}.tmp*"):
        stale.unlink(missing_ok=True)
    path = directory / LAST
    if not path.is_file():
        return None
    state = safe_load(path, map_location)
    missing = [k for k in REQUIRED_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(
            f"{path}: not a valid avssl training checkpoint (missing {', '.join(missing)}); "
            f"to restart this job from scratch delete {directory}/ and re-run."
        )
    return state


def remove_checkpoints(directory: str | Path) -> None:
    directory = Path(directory)
    if not directory.is_dir():
        return
    # the loop's state, and files stateful callers keep next to it (epoch snapshots for averaging)
    for pattern in (f".{LAST}.tmp*", LAST, "snapshot-epoch*.safetensors", ".snapshot-epoch*.tmp*"):
        for f in directory.glob(pattern):
            f.unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        pass
