"""Resumable training state (not the encoder export format, see avssl.models.checkpoint).

One file, ``<dir>/last.pt``, holds everything a run needs to continue bit-identically: the objective's
state dict (students, EMA teachers, predictors, buffers), optimisers, schedulers, the sampler position
(epoch, batch index), every process's RNG states, the step, the metric history and a fingerprint of the
settings that shape the trajectory. Writes are atomic (temp file, fsync, rename): a job killed at any moment,
even with SIGKILL during a save, leaves either the previous checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

LAST = "last.pt"


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


def load_checkpoint(directory: str | Path, map_location: Any = "cpu") -> dict | None:
    """The last complete checkpoint in ``directory``, or None. Stale temp files from killed saves are removed."""
    directory = Path(directory)
    for stale in directory.glob(f".{LAST}.tmp*"):
        stale.unlink(missing_ok=True)
    path = directory / LAST
    if not path.is_file():
        return None
    # weights_only=False: the state holds python/numpy RNG tuples; we only load files we wrote.
    return torch.load(path, map_location=map_location, weights_only=False)


def remove_checkpoints(directory: str | Path) -> None:
    directory = Path(directory)
    if not directory.is_dir():
        return
    for f in list(directory.glob(f".{LAST}.tmp*")) + [directory / LAST]:
        f.unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        pass
