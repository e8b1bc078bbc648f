"""The `train` section: the shared training loop (steps, batching, optimiser defaults, checkpoints, devices).

One section serves every method (RAVEn, Shukla, later fine-tuning): objectives supply their own learning
rates through ``param_groups()``; the fields here are the fallbacks and everything that is about *running*
the loop rather than about the method. The defaults are the ``default`` preset: a CPU job of a few minutes.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from avssl.config.base import Section


class TrainParams(Section):
    steps: int = Field(300, ge=1, description="Optimiser steps per job (ignored when `epochs` is set).")
    epochs: Optional[int] = Field(
        None, ge=1, description="If set, train this many passes over the train split instead of `steps`."
    )
    batch_frames: int = Field(
        1200,
        ge=1,
        description="Frame budget of one optimiser step summed over ALL processes (padded frames, 25 fps): "
        "the same value gives the same global batches whatever the number of processes.",
    )
    max_frames: Optional[int] = Field(
        75, ge=1, description="Random temporal crop (train) / truncation (eval) to at most this many frames; null = whole clips."
    )
    batch_multiple: int = Field(
        4,
        ge=1,
        le=1024,
        description="Clips per global batch are a multiple of this; the process count must divide it "
        "(4 = identical batches on 1, 2 or 4 processes).",
    )
    num_buckets: int = Field(8, ge=1, le=256, description="Length buckets of the frame-count batch sampler.")
    num_workers: int = Field(0, ge=0, le=64, description="DataLoader worker processes (results do not depend on it).")
    lr: float = Field(1e-3, gt=0, description="Peak learning rate for parameter groups that do not set their own.")
    min_lr: float = Field(1e-5, ge=0, description="Cosine floor for groups that do not set their own `min_lr`.")
    weight_decay: float = Field(0.04, ge=0, description="AdamW weight decay for groups that do not set their own.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW betas for groups that do not set their own.")
    warmup_fraction: float = Field(
        0.1, ge=0, lt=1, description="Fraction of the steps with a linear learning-rate warm-up (then per-step cosine)."
    )
    grad_clip: Optional[float] = Field(
        None,
        ge=0,
        description="Max gradient norm per optimiser; null = the objective's `grad_clip` attribute (else 3.0); 0 = off.",
    )
    seed_offset: int = Field(0, ge=0, description="Added to study.seed: a different seed for the same study.")
    deterministic: bool = Field(
        True, description="torch.use_deterministic_algorithms + no cuDNN benchmark + no TF32 (bit-identical on CPU)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = CUDA when available, else CPU.")
    bf16: bool = Field(False, description="bf16 autocast (CUDA); weights and optimiser state stay float32.")
    compile: bool = Field(False, description="Wrap the objective in torch.compile.")
    find_unused_parameters: bool = Field(
        False, description="DDP option for objectives that leave some trainable parameters unused in a step."
    )
    log_every: int = Field(10, ge=1, description="Steps between metric logs (means over the window).")
    checkpoint_every: int = Field(
        100, ge=1, description="Steps between resumable training-state checkpoints (one is also written at the end)."
    )
    keep_checkpoint: bool = Field(
        False, description="Keep `checkpoints/last.pt` after a finished job (default: delete it, the export stays)."
    )
    val_batches: int = Field(4, ge=0, description="Batches of the val split for a final validation loss (0 = none).")

    @model_validator(mode="after")
    def _check(self) -> "TrainParams":
        if not 0 <= self.betas[0] < 1 or not 0 <= self.betas[1] < 1:
            raise ValueError("betas must be in [0, 1)")
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        return self
