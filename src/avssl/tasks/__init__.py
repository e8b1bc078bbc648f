"""Downstream tasks: which encoder, which labels, which head/objective, which metrics.

What a task IS (name, modality, section, labels, metrics) is its entry in :mod:`avssl.registry.tasks`; what it
DOES (targets, head, loss, decoding, scoring) is its kind's class in :mod:`avssl.tasks.kinds`.

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
Importing this package is cheap (no torch); the kinds import their objectives on call.
"""

from __future__ import annotations

from avssl.registry.tasks import TASKS, Task  # noqa: F401  (the registry: avssl.registry.tasks)
from avssl.tasks.kinds import kind_of
from avssl.tasks.kinds.classification import class_list  # noqa: F401


def task_params(finetune_params, task: str):
    """The `finetune.<section>` holding ``task``'s hyper-parameters."""
    return getattr(finetune_params, TASKS[task].section)


def build_objective(task: str, encoder, feat_dim: int, finetune_params, **kwargs):
    """Objective for ``task`` from a ``FinetuneParams``; kwargs: num_classes (classification), tokenizer
    (asr/vsr), freeze_encoder, noise_augment (see :func:`make_noise_augment`), decoding (BeamSearchConfig)."""
    return kind_of(task).build(TASKS[task], encoder, feat_dim, task_params(finetune_params, task), **kwargs)


def make_noise_augment(finetune_params, pool=None, seed: int = 0):
    """The training noise augmenter configured by ``finetune.noise_augmentation`` (None when disabled).
    ``pool``: a :class:`avssl.tasks.noise.BabblePool` of held-out utterances (babble is skipped without one)."""
    na = finetune_params.noise_augmentation
    if not na.enabled:
        return None
    from avssl.tasks.noise import NoiseAugment

    return NoiseAugment(pool, snrs=na.snrs, p=na.probability, noise_types=na.noise_types, seed=seed,
                        babble_k=na.babble_speakers)


def task_rows(rows, task: str) -> list[dict]:
    """Rows usable for ``task`` (label column present; affect: every clip, its arrays come from annotations)."""
    return kind_of(task).rows(rows, TASKS[task])
