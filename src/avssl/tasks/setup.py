"""What a fine-tuning or evaluation job needs before the loop: rows, labels, encoder, objective.

Both stages build the model through :func:`build_task_model`, so `avssl evaluate` rebuilds exactly the
module `avssl finetune` trained (from the finetuned folder's config.json) before loading its weights.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from avssl.stages import PRETRAINED_INITS
from avssl.tasks import TASKS, task_rows
from avssl.tasks.kinds import kind_of


def split_rows(rows: list[dict], task: str, split: str) -> list[dict]:
    return task_rows([r for r in rows if str(r.get("split")) == split], task)


def speaker_balanced_subset(rows: list[dict], fraction: float, seed: int) -> list[dict]:
    """The same fraction of every speaker's labelled clips (at least one each), drawn with ``seed``.

    Why per speaker: a plain random subset of a small corpus can drop a speaker entirely, which would confound
    the label-fraction curves with speaker coverage.
    """
    if fraction >= 1:
        return list(rows)
    by_speaker: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: str(r["clip_id"])):
        by_speaker[str(r.get("speaker", ""))].append(r)
    rng = random.Random(seed)
    out = []
    for speaker in sorted(by_speaker):
        clips = by_speaker[speaker]
        k = max(1, int(round(fraction * len(clips))))
        out += rng.sample(clips, k)
    return sorted(out, key=lambda r: str(r["clip_id"]))


def encoder_spec(params: Any, task: str, init: str) -> tuple[str, dict]:
    """(arch, builder kwargs) of an encoder that is not loaded from pre-training: `scratch` / `random` (randomly
    initialised), `logmel` (no weights; as many bands as the Shukla audio pretext's log-mel target) or `nuisance`
    (no weights; timing and loudness only)."""
    modality = TASKS[task].modality
    if init == "scratch" and TASKS[task].scratch_arch == "raven":
        return f"raven_{modality}", params.raven.encoder_config()
    if modality == "video":
        raise ValueError(f"task {task}: init {init!r} has no video encoder (use scratch or raven)")
    s = params.shukla
    if init == "logmel":
        return "logmel", {"n_mels": s.n_mels or 40}
    if init == "nuisance":
        return "nuisance", {}
    return "shukla_audio", dict(window_s=s.window_s, cnn_channels=s.cnn_channels, code_dim=s.code_dim,
                                gru_hidden=s.gru_hidden, gru_layers=s.gru_layers)  # fmt: skip


def encoder_dim(encoder) -> int:
    if hasattr(encoder, "output_dim"):
        return int(encoder.output_dim)
    return int(encoder.config["adim"])


def make_encoder(params: Any, task: str, init: str, pretrained: Path | None):
    """Pre-trained encoder of `init` (its task modality), or a fresh one for scratch / random / logmel / nuisance."""
    from avssl.models import registry
    from avssl.models.load import load_encoder

    if init in PRETRAINED_INITS:
        if pretrained is None:
            raise ValueError(f"init {init!r} needs --pretrained (the pre-training output folder)")
        enc = load_encoder(pretrained, modality=TASKS[task].modality)
        enc.train()
        return enc
    arch, config = encoder_spec(params, task, init)
    return registry.build(arch, **config)


def label_fn(task: str, classes: list[str] | None, tokenizer, annotations):
    """meta (an index row) -> extra batch entries for the task's targets."""
    return kind_of(task).targets(TASKS[task], classes, tokenizer, annotations)


def task_params(params: Any, task: str):
    from avssl.tasks import task_params as section

    return section(params.finetune, task)


def build_task_model(params: Any, task: str, encoder, *, classes=None, tokenizer=None, freeze: bool,
                     noise_augment=None):
    """The task objective around ``encoder`` (identical in finetune and evaluate)."""
    from avssl.tasks import build_objective

    options = kind_of(task).model_options(params, classes, tokenizer)
    return build_objective(task, encoder, encoder_dim(encoder), params.finetune, freeze_encoder=freeze,
                           noise_augment=noise_augment, **options)  # fmt: skip


def classes_for(rows: list[dict], task: str) -> list[str] | None:
    return kind_of(task).classes(rows, TASKS[task])
