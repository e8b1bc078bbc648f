"""Averaging of the last K checkpoints (RAVEn: last 10 epochs) — a cheap ensemble that smooths the end of
training. Floating-point tensors are averaged (accumulated in float64); integer buffers such as BatchNorm's
``num_batches_tracked`` are taken from the last checkpoint (averaging counters is meaningless)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import torch

SNAPSHOT_PREFIX = "snapshot-epoch"


def average_state_dicts(state_dicts: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    if not state_dicts:
        raise ValueError("nothing to average")
    keys = list(state_dicts[-1].keys())
    for sd in state_dicts:
        if set(sd.keys()) != set(keys):
            raise ValueError("checkpoints have different keys")
    out = {}
    for k in keys:
        last = state_dicts[-1][k]
        if torch.is_floating_point(last):
            acc = torch.zeros(last.shape, dtype=torch.float64)
            for sd in state_dicts:
                acc += sd[k].detach().to("cpu", torch.float64)
            out[k] = (acc / len(state_dicts)).to(last.dtype)
        else:
            out[k] = last.detach().clone().cpu()
    return out


def last_k(paths: Sequence, k: int) -> list:
    """The ``k`` most recent of ``paths`` (sorted by name, e.g. epoch-numbered files)."""
    return sorted(paths, key=str)[-k:]


class EpochSnapshots:
    """The last ``k - 1`` end-of-epoch weights, for averaging with the final weights (``k`` in all).

    Part of the training state. Each snapshot is written once, when taken, to
    ``<directory>/snapshot-epochNNNNN.safetensors`` (not kept in memory, not rewritten with every checkpoint:
    RAVEn averages 10); :meth:`state_dict` (saved in every training checkpoint via ``train(stateful=...)``)
    lists the epochs in use, so a killed and re-run job averages exactly the snapshots an uninterrupted one
    does. A file is deleted only once no written checkpoint refers to it. Snapshots are safetensors: reading
    them never runs code.
    """

    def __init__(self, k: int, directory, final_epoch: int | None = None):
        """``final_epoch``: the epoch training ends in (no snapshot of it: its weights are the final ones), when
        known; then the epochs before the last ``k - 1`` are not written at all (they would only be deleted:
        a 60-epoch frozen ASR head wrote 59 files for 9). ``None``: every epoch is written."""
        self.k = max(1, int(k))
        self.directory = Path(directory)
        self.first_kept = None if final_epoch is None else int(final_epoch) - (self.k - 1)
        self.epochs: list[int] = []  # oldest first
        self._saved: list[int] = []  # the epochs the last written checkpoint refers to

    def path(self, epoch: int) -> Path:
        return self.directory / f"{SNAPSHOT_PREFIX}{int(epoch):05d}.safetensors"

    def on_epoch_end(self, epoch: int, objective: torch.nn.Module) -> None:
        """The loop's epoch callback: write this epoch's weights, forget the oldest beyond ``k - 1``."""
        if self.k < 2 or (self.first_kept is not None and epoch < self.first_kept):
            return
        from safetensors.torch import save_file

        path = self.path(epoch)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        save_file({n: t.detach().cpu().contiguous() for n, t in objective.state_dict().items()}, str(tmp))
        with open(tmp, "rb+") as fh:  # on disk before a checkpoint can list it
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self.epochs = ([e for e in self.epochs if e != epoch] + [int(epoch)])[-(self.k - 1) :]
        keep = set(self.epochs) | set(self._saved)
        for f in self.directory.glob(f"{SNAPSHOT_PREFIX}*.safetensors"):
            stem = f.name[len(SNAPSHOT_PREFIX) : -len(".safetensors")]
            if stem.isdigit() and int(stem) not in keep:
                f.unlink(missing_ok=True)
        for stale in self.directory.glob(f".{SNAPSHOT_PREFIX}*.tmp*"):  # from a job killed while writing one
            stale.unlink(missing_ok=True)

    def state_dict(self) -> dict:
        """Called by the loop when it writes a checkpoint: from then on these files must stay."""
        self._saved = list(self.epochs)
        return {"k": self.k, "epochs": list(self.epochs)}

    def load_state_dict(self, state: dict) -> None:
        if int(state["k"]) != self.k:
            raise ValueError(f"{self.directory}: checkpoint averages {state['k']} snapshots, this job {self.k}; "
                             f"delete {self.directory}/ to restart")  # fmt: skip
        self.epochs = [int(e) for e in state["epochs"]]
        self._saved = list(self.epochs)
        missing = [str(self.path(e)) for e in self.epochs if not self.path(e).is_file()]
        if missing:
            raise ValueError(f"{missing[0]}: epoch snapshot for checkpoint averaging is missing; "
                             f"delete {self.directory}/ to restart the job")  # fmt: skip

    def average_into(self, objective: torch.nn.Module) -> int:
        """Load the average of the kept snapshots and the current weights into ``objective`` (same arithmetic
        as :func:`average_state_dicts`, one snapshot in memory at a time); returns how many weight sets were
        averaged (1 = none kept, weights unchanged)."""
        if not self.epochs:
            return 1
        from safetensors.torch import load_file

        final = {n: t.detach().cpu().clone() for n, t in objective.state_dict().items()}
        acc = {n: torch.zeros(t.shape, dtype=torch.float64) for n, t in final.items() if torch.is_floating_point(t)}
        for epoch in [*self.epochs, None]:  # snapshots oldest first, then the final weights
            sd = final if epoch is None else load_file(str(self.path(epoch)))
            if set(sd) != set(final):
                raise ValueError(f"{self.path(epoch)}: snapshot has other tensors than the model; "
                                 f"delete {self.directory}/ to restart the job")  # fmt: skip
            for n in acc:
                acc[n] += sd[n].to(torch.float64)
        count = len(self.epochs) + 1
        objective.load_state_dict({n: (acc[n] / count).to(t.dtype) if n in acc else t for n, t in final.items()})
        return count
