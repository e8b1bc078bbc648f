"""Seeds, deterministic kernels and RNG snapshots: what makes a CPU run bit-identical and resumable.

Every random stream is either derived from the master seed (:func:`avssl.data.seeds.derive_seed`, re-exported
here; used for per-sample augmentation so results do not depend on worker count) or is a global generator
whose state is saved in every checkpoint (:func:`rng_state` / :func:`set_rng_state`), so a resumed run
continues the same streams.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from avssl.data.seeds import derive_seed

__all__ = ["derive_seed", "seed_everything", "configure_determinism", "rng_state", "set_rng_state"]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_determinism(enabled: bool = True, cuda: bool = False, compile: bool = False) -> None:
    """Deterministic kernels; on CUDA also a fixed cuBLAS workspace and no TF32 (TF32 changes bits).

    Without torch.compile the kernel flag is set directly: `torch.use_deterministic_algorithms` also imports
    the inductor compiler to set its flag, which costs ~4 s of start-up in every training job.
    """
    if cuda and enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if compile:
        torch.use_deterministic_algorithms(enabled, warn_only=False)
    else:
        torch._C._set_deterministic_algorithms(enabled, warn_only=False)
    torch.backends.cudnn.benchmark = not enabled
    torch.backends.cudnn.deterministic = enabled
    if enabled:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def rng_state() -> dict:
    """Snapshot of every global generator (python, numpy, torch CPU and CUDA), as tensors and plain values only
    (numpy's key array becomes a tensor) so checkpoints load with ``torch.load(weights_only=True)``."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (str(kind), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss),
                  float(gauss)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.int64).astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])

