"""A planted checkpoints/last.pt (results folders may be shared) is refused with a clear error and never runs.

The payload is a real attack: unpickled the old way (``weights_only=False``) it creates a file. Resuming a
job must refuse it, naming the file, saying it is not a valid checkpoint and how to recover, and the file the
payload would create must not exist afterwards.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import zipfile

import pytest
import torch

from avssl.training import checkpointing
from avssl.training.checkpointing import CheckpointError
from avssl.training.loop import train
from test_training_fakes import tiny_cfg, toy_setup


class Payload:
    """Unpickling this calls ``open(marker, "w")``: creates ``marker`` (stands for any command)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant(path, marker, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"step": 1, "epoch": 0, "batch": 1, "fingerprint": {}, "objective": Payload(marker)}
    if fmt == "torch":  # the zip format torch.save writes
        torch.save(state, path)
    else:  # a bare pickle (torch.load reads the legacy format too)
        path.write_bytes(pickle.dumps(state))


@pytest.mark.parametrize("fmt", ["torch", "pickle"])
def test_planted_checkpoint_is_refused_and_payload_never_runs(tmp_path, fmt):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "out" / "checkpoints" / "last.pt"
    plant(ckpt, marker, fmt)
    obj, ds, _ = toy_setup(n=12)
    with pytest.raises(CheckpointError) as err:
        train(obj, ds, tiny_cfg(steps=2), tmp_path / "out", seed=1, progress=False)
    msg = str(err.value)
    assert str(ckpt) in msg and "not a valid avssl training checkpoint" in msg
    assert f"delete {ckpt.parent}" in msg
    assert not marker.exists()
    assert ckpt.is_file()  # nothing removed behind the user's back
    # the planted file is a real attack: the old loader (weights_only=False) would have run it
    with contextlib.suppress(RuntimeError):  # a bare pickle is unpickled (payload runs) before the format check
        torch.load(ckpt, weights_only=False)
    assert marker.exists()


def test_valid_checkpoint_round_trips_with_weights_only(tmp_path):
    """What the loop writes (RNG states, optimisers, schedulers, history) loads without arbitrary unpickling."""
    obj, ds, _ = toy_setup(n=12)
    train(obj, ds, tiny_cfg(steps=2, checkpoint_every=1, keep_checkpoint=True), tmp_path, seed=1, progress=False)
    state = checkpointing.load_checkpoint(tmp_path / "checkpoints")
    assert state["step"] == 2 and "numpy" in state["per_rank"][0]["rng"]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", "zip", "dict"])
def test_corrupt_or_foreign_checkpoint_gets_clear_error(tmp_path, content):
    ckpt = tmp_path / "last.pt"
    if content == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("data.txt", "hello")
        content = buf.getvalue()
    if content == "dict":
        torch.save({"weights": torch.zeros(2)}, ckpt)  # loads safely, but is not a training checkpoint
    else:
        ckpt.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a valid avssl training checkpoint") as err:
        checkpointing.load_checkpoint(tmp_path)
    assert str(ckpt) in str(err.value) and "delete" in str(err.value)
