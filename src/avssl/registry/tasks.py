"""The task registry: every downstream task, described once (the one list of task names).

Everything the rest of the code asks about a task comes from its :class:`Task` entry: the config's task names
(`finetune.tasks`, `finetune.jobs[].task`) and the `finetune.<section>` that holds its hyper-parameters, the
CLI's `--task` choices, the stage grid (which inits a video task takes, which encoder `scratch` builds, the
decoding keys of sequence tasks), the report's column order, labels and main metric, and the task kind whose
behaviour (head, loss, targets, decoding, scoring) lives in :mod:`avssl.tasks.kinds`.

Adding a task: one :func:`register` line below, or a module of its own that calls it, named in the environment
variable ``AVSSL_TASK_MODULES`` (comma-separated module names, imported with this module: every `avssl` command,
the Snakefile and the jobs it starts then know the task). A task of an existing kind needs nothing else; a new kind is one file in avssl/tasks/kinds/ plus one line in its ``KINDS``. A task
whose ``section`` is not declared in :class:`avssl.config.finetune.FinetuneParams` is validated with its
``section_model``. Import-light on purpose (stdlib only): config, the stage table and the Snakefile read it.
"""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Task:
    name: str  # the CLI's --task value, the `task` wildcard and MLflow tag
    kind: str  # "classification" | "regression" | "recognition": its behaviour class (avssl.tasks.kinds.KINDS)
    modality: str  # "audio" | "video": which encoder reads which batch input
    section: str  # finetune.<section> holds its hyper-parameters (several tasks may share one)
    label_columns: tuple[str, ...]  # clip-index columns (or annotation arrays) that carry its targets
    metrics: tuple[str, ...]  # what evaluation reports per condition (the first is plotted against SNR)
    main_metric: str  # the report's one number for the task (cross-paper table, findings, small-data table)
    lower_is_better: bool = False  # direction of main_metric (error rates)
    batch_key: str = "label"  # where the collated target goes
    scratch_arch: str = "shukla"  # encoder `scratch` builds: "shukla" (audio CNN+GRU) or "raven" (Transformer)
    sequence: bool = False  # transcription: beam-search keys are part of the model; `nuisance` is not run
    paper: str = "shukla"  # whose protocol it follows (an MLflow tag)
    section_model: str = "ClassifierTaskParams"  # avssl.config.finetune class validating an undeclared section
    label: str = ""  # the report's name for it ("" = name)

    @property
    def report_label(self) -> str:
        return self.label or self.name


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add ``task`` (refused when the name is taken: a registry entry is never replaced silently)."""
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    if task.modality not in ("audio", "video"):
        raise ValueError(f"task {task.name!r}: modality must be 'audio' or 'video', got {task.modality!r}")
    TASKS[task.name] = task
    return task


def unregister(name: str) -> None:
    TASKS.pop(name)


@contextmanager
def registered(task: Task) -> Iterator[Task]:
    """``task`` registered for the duration of the block (tests, experiments)."""
    register(task)
    try:
        yield task
    finally:
        unregister(task.name)


def names() -> tuple[str, ...]:
    """Every task name, in registration order (the report's column order)."""
    return tuple(TASKS)


def get(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; registered tasks: {', '.join(TASKS)}") from None


def sections() -> dict[str, str]:
    """finetune.<section> -> the config class name validating it, for every registered task."""
    return {t.section: t.section_model for t in TASKS.values()}


_SPEECH = dict(kind="recognition", section_model="SpeechRecognitionParams", label_columns=("text",),
               batch_key="tokens", metrics=("wer", "cer"), main_metric="wer", lower_is_better=True,
               scratch_arch="raven", sequence=True, paper="raven")  # fmt: skip

register(Task("emotion", "classification", "audio", "emotion", ("emotion",), ("accuracy", "uar"), "accuracy"))
register(Task("affect", "regression", "audio", "affect", ("arousal", "valence"), ("ccc_arousal", "ccc_valence"),
              "ccc_mean", batch_key="affect"))  # fmt: skip
register(Task("words_audio", "classification", "audio", "words", ("word",), ("accuracy",), "accuracy"))
register(Task("words_video", "classification", "video", "words", ("word",), ("accuracy",), "accuracy",
              scratch_arch="raven"))  # fmt: skip
register(Task(name="asr", modality="audio", section="asr", **_SPEECH))
register(Task(name="vsr", modality="video", section="vsr", **_SPEECH))


for _module in filter(None, (m.strip() for m in os.environ.get("AVSSL_TASK_MODULES", "").split(","))):
    importlib.import_module(_module)
