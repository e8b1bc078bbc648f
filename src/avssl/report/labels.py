"""Names and orders shared by every table and figure (rows in the papers' order, clean condition first)."""

from __future__ import annotations

import re

from avssl.registry import tasks as task_registry
from avssl.registry import inits

INIT_ORDER = inits.report_order()  # rows: the registry's report_rank (baselines, Shukla's methods, RAVEn)
INIT_LABELS = {i.name: i.label for i in inits.INITS}
MODE_ORDER = ["frozen", "finetuned"]
METRIC_LABELS = {"accuracy": "Acc", "uar": "UAR", "ccc_arousal": "CCC aro", "ccc_valence": "CCC val",
                 "ccc_mean": "CCC", "wer": "WER", "cer": "CER", "wer_greedy_ctc": "WER (greedy CTC)"}
PERCENT_METRICS = {"accuracy", "uar", "wer", "cer", "wer_greedy_ctc"}
LOWER_IS_BETTER = {"wer", "cer", "wer_greedy_ctc"}



def task_order() -> list[str]:
    """Tasks in the registry's order (avssl.registry.tasks): the report's column and row order."""
    return list(task_registry.names())


def main_metric(task: str) -> str:
    """The task's one number in the report (its registry entry; accuracy for a task no longer registered)."""
    spec = task_registry.TASKS.get(task)
    return spec.main_metric if spec is not None else "accuracy"


def task_label(task: str) -> str:
    spec = task_registry.TASKS.get(task)
    return spec.report_label if spec is not None else task


def _is_video(task: str) -> bool:
    spec = task_registry.TASKS.get(task)
    return spec is not None and spec.modality == "video"


def video_tasks() -> list[str]:
    return [t for t in task_order() if _is_video(t)]


_COND = re.compile(r"^(?P<noise>[A-Za-z]+)_(?P<snr>-?\d+(?:\.\d+)?)$")


def init_label(init: str, task: str | None = None) -> str:
    """A pre-trained init with several encoders (RAVEn) names the one the task uses (audio for Shukla's audio
    tasks, video for VSR)."""
    base = INIT_LABELS.get(init, init)
    entry = inits.by_name().get(init)
    if entry is not None and entry.pretrained and len(entry.modalities) > 1 and task is not None:
        base += " (video encoder)" if _is_video(task) else " (audio encoder)"
    return base


def row_label(init: str, mode: str, task: str | None = None) -> str:
    return f"{init_label(init, task)}, {mode}"


def order_index(value: str, order: list[str]) -> tuple[int, str]:
    return (order.index(value), value) if value in order else (len(order), value)


def parse_condition(cond: str) -> tuple[str, float | None]:
    """'clean' -> ('clean', None); 'babble_-5' -> ('babble', -5.0)."""
    m = _COND.match(cond)
    if not m:
        return cond, None
    return m["noise"], float(m["snr"])


def condition_sort_key(cond: str) -> tuple:
    """clean first, then by noise type, SNR from high (easy) to low (hard)."""
    noise, snr = parse_condition(cond)
    if cond == "clean":
        return (0, "", 0.0)
    return (1, noise, -(snr if snr is not None else 0.0))


def fraction_label(fraction: float) -> str:
    return f"{fraction * 100:g}%"
