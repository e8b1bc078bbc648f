"""Downstream tasks: which encoder, which labels, which head/objective, which metrics.

How a processed-dataset row becomes a training target (``ds = ProcessedDataset(...)``, rows of ``ds.index``):

- ``emotion``      index column ``emotion`` (a class name, e.g. "happy") -> class id = position in
                   ``class_list(train_rows, "emotion")`` (sorted names of the TRAINING split) -> ``batch["label"]``.
- ``words_*``      index column ``word`` -> class id in ``class_list(train_rows, "word")`` -> ``batch["label"]``.
- ``affect``       per-frame arrays ``ds.annotations(clip_id)["arousal"|"valence"]`` (float32 [T] in [-1, 1])
                   -> ``batch["affect"]`` float (B, T, 2) (arousal, valence), padded like the video.
- ``asr``/``vsr``  index column ``text`` -> ``Tokenizer.encode`` (SentencePiece trained on training texts)
                   -> ``batch["tokens"]`` (B, L) padded with -1 (or pass ``batch["text"]`` and let the
                   objective tokenise).

Rows with an empty label column are not part of that task (e.g. sentence clips have no ``word``).
Importing this package is cheap (no torch); builders import their modules on call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class TaskSpec:
    name: str
    modality: str  # "audio" | "video": which encoder / batch input
    label_columns: tuple  # clip-index columns (or annotation arrays) the task needs
    batch_key: str  # where the collated target goes
    metrics: tuple  # metric names reported by evaluation
    builder: Callable[..., Any] = field(repr=False)
    kind: str = "classification"


def _build_classifier(encoder, feat_dim, p, *, num_classes, modality, freeze_encoder=False, noise_augment=None, **_):
    from avssl.tasks.classification import ClassificationObjective

    return ClassificationObjective(encoder, modality, feat_dim, num_classes, hidden=p.hidden, layers=p.layers,
                                   dropout=p.dropout, freeze_encoder=freeze_encoder, lr_head=p.lr_head,
                                   lr_encoder=p.lr_encoder, weight_decay=p.weight_decay, betas=tuple(p.betas),
                                   label_smoothing=p.label_smoothing, noise_augment=noise_augment,
                                   feature_norm=p.frozen_feature_norm, optimizer=p.optimizer)


def _build_affect(encoder, feat_dim, p, *, modality, freeze_encoder=False, noise_augment=None, **_):
    from avssl.tasks.affect import AffectObjective

    return AffectObjective(encoder, modality, feat_dim, hidden=p.hidden, layers=p.layers, dropout=p.dropout,
                           freeze_encoder=freeze_encoder, lr_head=p.lr_head, lr_encoder=p.lr_encoder,
                           weight_decay=p.weight_decay, betas=tuple(p.betas), noise_augment=noise_augment,
                           feature_norm=p.frozen_feature_norm, optimizer=p.optimizer)


def _build_speech(encoder, feat_dim, p, *, modality, tokenizer, freeze_encoder=False, decoding=None,
                  noise_augment=None, **_):
    from avssl.tasks.speech_recognition import SpeechRecognitionObjective

    return SpeechRecognitionObjective(
        encoder, modality, feat_dim, tokenizer.vocab_size, tokenizer=tokenizer, ddim=p.decoder_dim,
        dheads=p.decoder_heads, dunits=p.decoder_units, dlayers=p.decoder_layers, dropout=p.dropout,
        ctc_weight=p.ctc_weight, label_smoothing=p.label_smoothing, freeze_encoder=freeze_encoder,
        lr_encoder=p.lr_encoder, lr_head=p.lr_head, layer_decay=p.layer_decay, weight_decay=p.weight_decay,
        betas=tuple(p.betas), time_masking=p.time_masking, decoding=decoding, noise_augment=noise_augment,
        frozen_adapter_kernel=p.frozen_adapter_kernel, feature_norm=p.frozen_feature_norm)


TASKS: dict[str, TaskSpec] = {
    "emotion": TaskSpec("emotion", "audio", ("emotion",), "label", ("accuracy", "uar"), _build_classifier),
    "affect": TaskSpec("affect", "audio", ("arousal", "valence"), "affect", ("ccc_arousal", "ccc_valence"),
                       _build_affect, kind="regression"),
    "words_audio": TaskSpec("words_audio", "audio", ("word",), "label", ("accuracy",), _build_classifier),
    "words_video": TaskSpec("words_video", "video", ("word",), "label", ("accuracy",), _build_classifier),
    "asr": TaskSpec("asr", "audio", ("text",), "tokens", ("wer", "cer"), _build_speech, kind="seq2seq"),
    "vsr": TaskSpec("vsr", "video", ("text",), "tokens", ("wer", "cer"), _build_speech, kind="seq2seq"),
}

# which FinetuneParams field holds each task's hyper-parameters
PARAMS_FIELD = {"emotion": "emotion", "affect": "affect", "words_audio": "words", "words_video": "words",
                "asr": "asr", "vsr": "vsr"}


def build_objective(task: str, encoder, feat_dim: int, finetune_params, **kwargs):
    """Objective for ``task`` from a ``FinetuneParams``; kwargs: num_classes (classification), tokenizer
    (asr/vsr), freeze_encoder, noise_augment (see :func:`make_noise_augment`), decoding (BeamSearchConfig)."""
    spec = TASKS[task]
    p = getattr(finetune_params, PARAMS_FIELD[task])
    return spec.builder(encoder, feat_dim, p, modality=spec.modality, **kwargs)


def make_noise_augment(finetune_params, pool=None, seed: int = 0):
    """The training noise augmenter configured by ``finetune.noise_augmentation`` (None when disabled).
    ``pool``: a :class:`avssl.tasks.noise.BabblePool` of held-out utterances (babble is skipped without one)."""
    na = finetune_params.noise_augmentation
    if not na.enabled:
        return None
    from avssl.tasks.noise import NoiseAugment

    return NoiseAugment(pool, snrs=na.snrs, p=na.probability, noise_types=na.noise_types, seed=seed,
                        babble_k=na.babble_speakers)


def _rows(index) -> Iterable[dict]:
    return index.to_dict("records") if hasattr(index, "to_dict") else index


def has_label(row: dict, column: str) -> bool:
    v = row.get(column)
    return v is not None and str(v).strip() not in ("", "nan", "None")


def class_list(rows, column: str) -> list[str]:
    """Sorted distinct non-empty values of ``column`` (build from TRAINING rows so ids are stable)."""
    return sorted({str(r[column]) for r in _rows(rows) if has_label(r, column)})


def task_rows(rows, task: str) -> list[dict]:
    """Rows usable for ``task`` (label column present; affect: every clip, its arrays come from annotations)."""
    spec = TASKS[task]
    if spec.kind == "regression":
        return list(_rows(rows))
    return [r for r in _rows(rows) if has_label(r, spec.label_columns[0])]
