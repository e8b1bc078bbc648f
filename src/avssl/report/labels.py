"""Names and orders shared by every table and figure (rows in the papers' order, clean condition first)."""

from __future__ import annotations

import re

INIT_ORDER = ["scratch", "nuisance", "logmel", "random", "shukla_visual", "shukla_audio", "shukla_multitask", "raven"]
INIT_LABELS = {
    "scratch": "Supervised (scratch)",
    "nuisance": "Timing + loudness cues only (no speech content)",
    "logmel": "Log-mel features (no pre-training)",
    "random": "Random encoder",
    "shukla_visual": "Visual SSL (Shukla)",
    "shukla_audio": "Audio SSL (Shukla)",
    "shukla_multitask": "Audio-visual multi-task SSL (Shukla)",
    "raven": "RAVEn",
}
MODE_ORDER = ["frozen", "finetuned"]
TASK_ORDER = ["emotion", "affect", "words_audio", "words_video", "asr", "vsr"]
VIDEO_TASKS = {"words_video", "vsr"}
MAIN_METRIC = {"emotion": "accuracy", "affect": "ccc_mean", "words_audio": "accuracy",
               "words_video": "accuracy", "asr": "wer", "vsr": "wer"}
METRIC_LABELS = {"accuracy": "Acc", "uar": "UAR", "ccc_arousal": "CCC aro", "ccc_valence": "CCC val",
                 "ccc_mean": "CCC", "wer": "WER", "cer": "CER", "wer_greedy_ctc": "WER (greedy CTC)"}
PERCENT_METRICS = {"accuracy", "uar", "wer", "cer", "wer_greedy_ctc"}
LOWER_IS_BETTER = {"wer", "cer", "wer_greedy_ctc"}

_COND = re.compile(r"^(?P<noise>[A-Za-z]+)_(?P<snr>-?\d+(?:\.\d+)?)$")


def init_label(init: str, task: str | None = None) -> str:
    """RAVEn's row names the encoder the task uses (audio for Shukla's audio tasks, video for VSR)."""
    base = INIT_LABELS.get(init, init)
    if init == "raven" and task is not None:
        base += " (video encoder)" if task in VIDEO_TASKS else " (audio encoder)"
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
