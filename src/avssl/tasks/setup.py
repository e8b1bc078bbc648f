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
from avssl.stages import RAVEN_ARCH_TASKS as RAVEN_TASKS  # `scratch` uses the RAVEn architecture for these
from avssl.tasks import TASKS, class_list, task_rows


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
    if init == "scratch" and task in RAVEN_TASKS:
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
    import numpy as np

    spec = TASKS[task]
    if spec.kind == "classification":
        column = spec.label_columns[0]
        lookup = {c: i for i, c in enumerate(classes or [])}
        return lambda meta: {"label": lookup[str(meta[column])]}
    if spec.kind == "regression":
        def affect(meta):
            arrays = annotations(meta["clip_id"])
            n = int(meta["n_frames"])
            return {"affect": np.stack([arrays["arousal"][:n], arrays["valence"][:n]], -1).astype("float32")}

        return affect
    return lambda meta: {"tokens": np.asarray(tokenizer.encode(str(meta["text"])), dtype=np.int64)}


def task_params(params: Any, task: str):
    from avssl.tasks import PARAMS_FIELD

    return getattr(params.finetune, PARAMS_FIELD[task])


def build_task_model(params: Any, task: str, encoder, *, classes=None, tokenizer=None, freeze: bool,
                     noise_augment=None):
    """The task objective around ``encoder`` (identical in finetune and evaluate)."""
    from avssl.tasks import build_objective
    from avssl.tasks.beam_search import BeamSearchConfig

    spec = TASKS[task]
    kwargs: dict[str, Any] = {"freeze_encoder": freeze, "noise_augment": noise_augment}
    if spec.kind == "classification":
        kwargs["num_classes"] = len(classes)
    if spec.kind == "seq2seq":
        ev = params.evaluate
        kwargs["tokenizer"] = tokenizer
        kwargs["decoding"] = BeamSearchConfig(beam_size=ev.beam_size, ctc_weight=ev.ctc_weight,
                                              length_bonus=ev.length_bonus)  # fmt: skip
    return build_objective(task, encoder, encoder_dim(encoder), params.finetune, **kwargs)


def classes_for(rows: list[dict], task: str) -> list[str] | None:
    spec = TASKS[task]
    return class_list(rows, spec.label_columns[0]) if spec.kind == "classification" else None
