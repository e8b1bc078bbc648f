"""Averaging of the last K checkpoints (RAVEn: last 10 epochs) — a cheap ensemble that smooths the end of
training. Floating-point tensors are averaged (accumulated in float64); integer buffers such as BatchNorm's
``num_batches_tracked`` are taken from the last checkpoint (averaging counters is meaningless)."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch


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

    Part of the training state: the loop saves :meth:`state_dict` in every checkpoint (``train(stateful=...)``)
    and restores it on resume, so a killed and re-run job averages exactly the snapshots an uninterrupted one
    does. ``on_epoch_end`` is the loop's epoch callback.
    """

    def __init__(self, k: int):
        self.k = max(1, int(k))
        self.snapshots: list[dict[str, torch.Tensor]] = []
        self.epochs: list[int] = []

    def on_epoch_end(self, epoch: int, objective: torch.nn.Module) -> None:
        if self.k < 2:
            return
        self.snapshots.append({n: t.detach().cpu().clone() for n, t in objective.state_dict().items()})
        self.epochs.append(int(epoch))
        while len(self.snapshots) > self.k - 1:  # the final weights are the K-th
            self.snapshots.pop(0)
            self.epochs.pop(0)

    def state_dict(self) -> dict:
        return {"k": self.k, "epochs": list(self.epochs), "snapshots": list(self.snapshots)}

    def load_state_dict(self, state: dict) -> None:
        if int(state["k"]) != self.k:
            raise ValueError(f"checkpoint keeps snapshots for average_last={state['k']}, this job {self.k}")
        self.epochs = [int(e) for e in state["epochs"]]
        self.snapshots = [dict(s) for s in state["snapshots"]]

    def average_into(self, objective: torch.nn.Module) -> int:
        """Load the average of the kept snapshots and the current weights into ``objective``; returns how many
        weight sets were averaged (1 = nothing kept, weights unchanged)."""
        if not self.snapshots:
            return 1
        final = {n: t.detach().clone() for n, t in objective.state_dict().items()}
        objective.load_state_dict(average_state_dicts([*self.snapshots, final]))
        return len(self.snapshots) + 1
