"""The `pretrain` stage: one self-supervised method on the processed shards -> exported encoders + metrics.

Outputs in ``output_dir``: ``model.safetensors`` + ``config.json`` (avssl.models.checkpoint format),
``metrics.json`` (final losses, validation loss, throughput, steps, seconds), ``training_curves.png``.
While running, resumable state lives in ``output_dir/checkpoints/last.pt``: a killed or preempted job
re-run with the same command resumes there. It is deleted once the export is written unless
``train.keep_checkpoint`` is true.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avssl.registry import inits
from avssl.tracking.run import NullRun, write_json

METHODS = inits.method_names()


def build_objective(params: Any, method: str):
    """The PretrainObjective of ``method``: its registry entry names the builder (imported lazily: each pulls in
    its own models)."""
    if method not in inits.method_names():
        raise ValueError(f"unknown pre-training method {method!r}; known: {', '.join(inits.method_names())}")
    return inits.get(method).build_objective()(params, method)


def train_params(params: Any):
    """``params.train``, or the defaults while the root Params has no `train` section yet."""
    from avssl.config.train import TrainParams

    return getattr(params, "train", None) or TrainParams()


def export_encoders(output_dir: Path, encoders: dict, extra_config: dict) -> list[Path]:
    """Write the encoders in the shared checkpoint format (fallback: plain safetensors + config.json)."""
    try:
        from avssl.models.checkpoint import save_encoders
    except ImportError:
        save_encoders = None
    if save_encoders is not None:
        save_encoders(output_dir, encoders, extra_config)
        return [output_dir / "model.safetensors", output_dir / "config.json"]
    from safetensors.torch import save_file

    tensors = {f"{name}.{k}": v.detach().cpu().clone().contiguous() for name, enc in encoders.items() for k, v in enc.state_dict().items()}
    save_file(tensors, str(output_dir / "model.safetensors"))
    config = {
        "format": "avssl-fallback-v0",
        "encoders": {name: {"arch": getattr(enc, "arch", None), "config": getattr(enc, "config", {})} for name, enc in encoders.items()},
        **extra_config,
    }
    write_json(output_dir / "config.json", json.loads(json.dumps(config, default=str)))
    return [output_dir / "model.safetensors", output_dir / "config.json"]


def run_pretrain(
    params: Any,
    method: str,
    processed_dir: str | Path,
    output_dir: str | Path,
    run: NullRun = NullRun(),
    threads: int = 1,
    progress: bool = True,
) -> dict:
    """Pre-train ``method`` on the train split of ``processed_dir``; returns metrics.json's content."""
    import torch

    from avssl.data.batching import MODALITIES, ClipDataset
    from avssl.data.processed import ProcessedDataset
    from avssl.training import checkpointing, determinism, distributed
    from avssl.training.loop import train
    from avssl.training.plots import plot_training_curves

    if method not in inits.method_names():
        raise ValueError(f"unknown pre-training method {method!r}; known: {', '.join(inits.method_names())}")
    torch.set_num_threads(max(1, threads))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    cfg = train_params(params)
    steps_key = inits.get(method).steps_key  # e.g. raven.steps: the method's own budget (config.json records it)
    section, _, key = steps_key.partition(".")
    own_steps = getattr(getattr(params, section, None), key, None) if steps_key else None
    if own_steps is not None:
        cfg = cfg.model_copy(update={"steps": own_steps, "epochs": None})
    seed = determinism.derive_seed(params.study.seed + cfg.seed_offset, "pretrain", method)
    info = distributed.init_distributed(cfg.device)

    source = ProcessedDataset(processed_dir)
    determinism.seed_everything(seed)  # initial weights
    objective = build_objective(params, method)
    modalities = tuple(getattr(objective, "modalities", MODALITIES))
    labels = getattr(objective, "labels", None)  # e.g. RAVEn's probe heads read the transcripts
    aug_seed = determinism.derive_seed(seed, "augment")
    common = dict(seed=aug_seed, max_frames=cfg.max_frames, modalities=modalities, labels=labels)
    train_ds = ClipDataset(source, source.ids(split="train"), train=True, **common)
    val_ids = list(source.ids(split="val")) if cfg.val_batches > 0 else []
    val_ds = ClipDataset(source, val_ids, train=False, **common) if val_ids else None

    result = train(objective, train_ds, cfg, output_dir, run, seed=seed, val_dataset=val_ds, progress=progress)
    history = result.pop("history")
    metrics = {
        "method": method,
        "train_clips": len(train_ds),
        "val_clips": len(val_ds) if val_ds is not None else 0,
        **{k: v for k, v in result.items()},
    }
    if info.is_main:
        extra = {"method": method, "steps": result["steps"], "seed": seed, "train": cfg.model_dump(mode="json")}
        exported = export_encoders(output_dir, objective.encoders(), extra)
        write_json(output_dir / "metrics.json", metrics)
        write_json(output_dir / "history.json", history)
        curve = plot_training_curves(history, output_dir / "training_curves.png", title=f"{method} pre-training")
        run.log_metrics({"final/seconds": float(result["seconds"]), "final/frames_per_s": float(result["frames_per_s"])})
        for path in [output_dir / "metrics.json", curve, exported[-1]]:
            run.log_artifact(path)
        if not cfg.keep_checkpoint:
            checkpointing.remove_checkpoints(output_dir / "checkpoints")
    distributed.barrier(info)
    distributed.cleanup(info)
    return metrics
