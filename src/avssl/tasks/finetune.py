"""The `finetune` stage: one (task, init, mode, label fraction, seed) through the shared training loop.

Outputs in ``output_dir``: ``model.safetensors`` (the whole task model: encoder + head, official key names for
ASR/VSR), ``config.json`` (everything `avssl evaluate` needs to rebuild it: task, init, encoder arch/config,
classes, tokenizer file, MLflow run ids), ``metrics.json``, ``training_curves.png``; ``tokenizer.model`` for
ASR/VSR. Resumable like pre-training (``checkpoints/``); ASR/VSR average the last K epoch snapshots, which are
part of the checkpoint (a killed and re-run job averages exactly the same ones).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avssl.tasks import TASKS
from avssl.tasks.kinds import kind_of
from avssl.tasks.setup import (
    build_task_model,
    classes_for,
    label_fn,
    make_encoder,
    speaker_balanced_subset,
    split_rows,
    task_params,
)
from avssl.tracking.run import NullRun, write_json


def loop_params(params: Any, task: str, typical_frames: int, frozen: bool = False):
    """TrainParams for a downstream task: its epochs/batch/schedule expressed in the shared loop's terms.

    ``frozen``: the encoder is not trained, so ASR/VSR use ``frozen_epochs`` when it is set (heads on cached
    features learn slowly per epoch but each epoch is cheap)."""
    from avssl.config.train import TrainParams

    p = task_params(params, task)
    epochs = p.epochs
    if frozen and getattr(p, "frozen_epochs", None):
        epochs = p.frozen_epochs
    batch_frames = kind_of(task).batch_frames(p, typical_frames)
    base = params.train
    return TrainParams(
        steps=p.max_steps or 1,
        epochs=None if p.max_steps else epochs,
        batch_frames=batch_frames,
        max_frames=None,  # whole clips: per-frame labels stay aligned
        batch_multiple=1,
        num_buckets=base.num_buckets,
        num_workers=base.num_workers,
        lr=p.lr_head,
        min_lr=p.min_lr,
        weight_decay=p.weight_decay,
        betas=tuple(p.betas),
        warmup_fraction=min(0.5, p.warmup_epochs / max(epochs, 1)),
        grad_clip=p.grad_clip or 0.0,
        deterministic=base.deterministic,
        device=base.device,
        bf16=base.bf16,
        compile=base.compile,
        log_every=max(1, base.log_every),
        checkpoint_every=base.checkpoint_every,
        keep_checkpoint=base.keep_checkpoint,
        # The whole val split (it is small): train.val_batches (1 for pre-training) would score only the
        # first, shortest batch -- a few clips of one speaker -- which made val/acc read 0.0 for every task.
        val_batches=10**9 if base.val_batches > 0 else 0,
    )


def _pretrain_run_id(pretrained: Path | None) -> str | None:
    if pretrained is None or not (Path(pretrained) / "config.json").is_file():
        return None
    return json.loads((Path(pretrained) / "config.json").read_text()).get("mlflow_run_id")


def _rows_and_targets(params: Any, task: str, fraction: float, seed: int, ds, processed_dir, output_dir: Path):
    """(all training rows, the label-fraction subset, validation rows, classes, tokenizer) of one job."""
    kind, spec = kind_of(task), TASKS[task]
    all_train = split_rows(ds.index, task, "train")
    if not all_train:
        raise ValueError(f"{processed_dir}: no training clips labelled for task {task!r}")
    train_rows = speaker_balanced_subset(all_train, fraction, seed)
    val_rows = split_rows(ds.index, task, "val")
    classes = classes_for(all_train, task)
    tokenizer = kind.prepare(all_train, task_params(params, task), output_dir)
    if classes is not None:  # val/test clips of classes unseen in training cannot be scored
        val_rows = [r for r in val_rows if str(r[spec.label_columns[0]]) in classes]
    return train_rows, val_rows, classes, tokenizer


def _objective(params: Any, task: str, init: str, mode: str, ds, val_rows, classes, tokenizer, job_seed: int,
               pretrained: Path | None, features):
    """The task model (seeded), reading the `features` stage's cached frozen features when given."""
    from avssl.tasks import make_noise_augment
    from avssl.training import determinism

    spec = TASKS[task]
    determinism.seed_everything(job_seed)  # initial weights of heads and scratch encoders
    encoder = make_encoder(params, task, init, pretrained)
    pool = None
    if params.finetune.noise_augmentation.enabled and spec.modality == "audio":
        from avssl.tasks.noise import BabblePool

        pool = BabblePool.from_processed(ds, [r["clip_id"] for r in val_rows])
    objective = build_task_model(params, task, encoder, classes=classes, tokenizer=tokenizer,
                                 freeze=(mode == "frozen"),
                                 noise_augment=make_noise_augment(params.finetune, pool, seed=job_seed))  # fmt: skip
    if features is not None:
        from avssl.tasks.features import FeatureBank

        if mode != "frozen":
            raise ValueError(f"--features needs --mode frozen (cached features stand for a frozen encoder), got {mode}")
        bank = FeatureBank(features, checkpoint=pretrained)  # clean features only: the noise settings are evaluate's
        if bank.has(spec.modality):
            objective.use_features(bank.table(spec.modality, "clean"))
    return objective


def _save(objective, output_dir: Path, config: dict, metrics: dict, history, title: str, run) -> None:
    """model.safetensors, config.json, metrics.json and the training curves, logged to the run."""
    from safetensors.torch import save_file

    from avssl.training.plots import plot_training_curves

    state = {n: t.detach().cpu().contiguous() for n, t in objective.state_dict().items()}
    save_file(state, str(output_dir / "model.safetensors"))
    write_json(output_dir / "config.json", json.loads(json.dumps(config, default=str)))
    write_json(output_dir / "metrics.json", metrics)
    curve = plot_training_curves(history, output_dir / "training_curves.png", title=title)
    for path in (output_dir / "metrics.json", output_dir / "config.json", curve):
        run.log_artifact(path)


def run_finetune(params: Any, task: str, init: str, mode: str, fraction: float, seed: int, processed_dir,
                 output_dir, pretrained=None, run=NullRun(), threads: int = 1, progress: bool = True,
                 features=None) -> dict:
    """``features``: the `features` stage's folder of the frozen pre-trained encoder: training (when its input is
    not augmented) and validation read the cached features instead of running the encoder."""
    import statistics
    from functools import partial

    import torch

    from avssl.data.batching import ClipDataset
    from avssl.data.processed import ProcessedDataset
    from avssl.tasks.checkpoint_average import EpochSnapshots
    from avssl.training import checkpointing, determinism
    from avssl.training.loop import train

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    torch.set_num_threads(max(1, threads))
    spec = TASKS[task]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pretrained = Path(pretrained) if pretrained else None
    job_seed = determinism.derive_seed(params.study.seed, "finetune", task, init, mode, fraction, seed)

    ds = ProcessedDataset(processed_dir)
    train_rows, val_rows, classes, tokenizer = _rows_and_targets(params, task, fraction, seed, ds, processed_dir,
                                                                 output_dir)  # fmt: skip
    objective = _objective(params, task, init, mode, ds, val_rows, classes, tokenizer, job_seed, pretrained, features)

    labels = label_fn(task, classes, tokenizer, ds.annotations)
    modalities = (spec.modality,)
    aug_seed = determinism.derive_seed(job_seed, "augment")
    # The loader leaves out the samples the model will not read (features from the table or the in-process cache).
    reads = objective.reads_input
    train_ds = ClipDataset(ds, [r["clip_id"] for r in train_rows], train=True, seed=aug_seed, modalities=modalities,
                           labels=labels, needs_samples=partial(reads, training=True))  # fmt: skip
    val_ds = ClipDataset(ds, [r["clip_id"] for r in val_rows], train=False, seed=aug_seed, modalities=modalities,
                         labels=labels, needs_samples=partial(reads, training=False)) if val_rows else None  # fmt: skip
    cfg = loop_params(params, task, int(statistics.median(train_ds.lengths)), frozen=(mode == "frozen"))

    k = kind_of(task).snapshots(task_params(params, task))
    final_epoch = cfg.epochs - 1 if cfg.epochs else None  # epochs mode: training ends with that epoch
    snapshots = EpochSnapshots(k, output_dir / "checkpoints", final_epoch)  # part of the training state
    result = train(objective, train_ds, cfg, output_dir, run, seed=job_seed, val_dataset=val_ds,
                   progress=progress, on_epoch_end=snapshots.on_epoch_end if k > 1 else None,
                   stateful={"snapshots": snapshots} if k > 1 else None)  # fmt: skip
    history = result.pop("history")
    averaged = snapshots.average_into(objective)
    result["averaged_snapshots"] = averaged

    enc = objective.encoder
    config = {
        "task": task, "init": init, "mode": mode, "fraction": fraction, "seed": seed, "job_seed": job_seed,
        "modality": spec.modality,
        "encoder": {"arch": getattr(enc, "arch", None), "config": getattr(enc, "config", {})},
        "classes": classes, "tokenizer": "tokenizer.model" if tokenizer is not None else None,
        "train_clips": len(train_rows), "val_clips": len(val_rows), "averaged_snapshots": averaged,
        "pretrain_run_id": _pretrain_run_id(pretrained), "mlflow_run_id": run.run_id,
    }  # fmt: skip
    metrics = {"task": task, "init": init, "mode": mode, "fraction": fraction, "seed": seed,
               "train_clips": len(train_rows), **result}  # fmt: skip
    _save(objective, output_dir, config, metrics, history, f"{task} / {init}-{mode}", run)
    if not cfg.keep_checkpoint:
        checkpointing.remove_checkpoints(output_dir / "checkpoints")
    return metrics
