"""The report's tables: Shukla et al. layout (emotion, affect, words, noise, small_data), RAVEn layout
(raven_wer, with the published LRS3 numbers beside ours) and cross_paper (every init x every task)."""

from __future__ import annotations

from typing import Callable

from avssl.report.cells import Delta, Published, uncertainty_note
from avssl.report.labels import (
    INIT_ORDER, METRIC_LABELS, MODE_ORDER, condition_sort_key, fraction_label, main_metric, order_index,
    parse_condition, row_label, task_label, task_order, video_tasks,
)
from avssl.report.published import RAVEN_LRS3, SETTING_HOURS, SOURCE, published_wer
from avssl.report.runs import RunRecord
from avssl.report.table import Table
from avssl.report.values import Formatter, conditions, group_runs


def _row_key(r: RunRecord) -> tuple:
    return order_index(r.tag("init"), INIT_ORDER) + order_index(r.tag("mode"), MODE_ORDER)


def _sorted_rows(runs: list[RunRecord]) -> list[tuple[str, str]]:
    """(init, mode) pairs present, in the papers' row order."""
    pairs = {(r.tag("init"), r.tag("mode")): _row_key(r) for r in runs}
    return sorted(pairs, key=lambda p: pairs[p])


def _datasets(runs: list[RunRecord]) -> list[str]:
    return sorted({r.tag("dataset") for r in runs})


def _main(runs: list[RunRecord], fraction: float, tasks: set[str]) -> list[RunRecord]:
    return [r for r in runs if r.tag("task") in tasks and abs(r.fraction - fraction) < 1e-9]


def _shukla_table(name: str, title: str, runs: list[RunRecord], fmt: Formatter, fraction: float,
                  task_metrics: list[tuple[str, str]], label_task: str | None) -> Table:
    """Rows init x mode; one column group per dataset with one column per (task, metric)."""
    tasks = {t for t, _ in task_metrics}
    sel = _main(runs, fraction, tasks)
    table = Table(name, title)
    groups = group_runs(sel, lambda r: (r.tag("dataset"), r.tag("task"), r.tag("init"), r.tag("mode")))
    multi_task = len(tasks) > 1
    for ds in _datasets(sel):
        for task, metric in task_metrics:
            if not any(k[0] == ds and k[1] == task for k in groups):
                continue
            label = METRIC_LABELS[metric] + (f" ({task})" if multi_task else "")
            for init, mode in _sorted_rows(sel):
                table.set(row_label(init, mode, label_task), (ds, label),
                          fmt.cell(groups.get((ds, task, init, mode), []), metric))
    table.notes.append(f"Label fraction {fraction:g}; clean test condition.")
    return table


def emotion(runs, fmt, fraction):
    return _shukla_table("emotion", "Discrete emotion recognition (accuracy / UAR, %)", runs, fmt, fraction,
                         [("emotion", "accuracy"), ("emotion", "uar")], "emotion")


def affect(runs, fmt, fraction):
    return _shukla_table("affect", "Continuous affect recognition (CCC arousal / valence)", runs, fmt, fraction,
                         [("affect", "ccc_arousal"), ("affect", "ccc_valence")], "affect")


def words(runs, fmt, fraction):
    t = _shukla_table("words", "Isolated word recognition (accuracy, %)", runs, fmt, fraction,
                      [("words_audio", "accuracy"), ("words_video", "accuracy")], None)
    t.notes.append("RAVEn rows use its audio encoder for words_audio and its video encoder for words_video.")
    return t


def noise(runs, fmt, fraction):
    """Accuracy per test condition (clean first, then noise type x SNR high to low) per method."""
    sel = _main(runs, fraction, {"emotion", "words_audio"})
    table = Table("noise", "Accuracy (%) under additive noise")
    multi_ds = len(_datasets(sel)) > 1
    groups = group_runs(sel, lambda r: (r.tag("task"), r.tag("dataset"), r.tag("init"), r.tag("mode")))
    conds = sorted(conditions(sel, "accuracy"), key=condition_sort_key)
    for key in sorted(groups, key=lambda k: (order_index(k[0], task_order()), k[1],
                                             order_index(k[2], INIT_ORDER), order_index(k[3], MODE_ORDER))):
        task, ds, init, mode = key
        prefix = f"{task}/{ds}" if multi_ds else task
        for cond in conds:
            nz, snr = parse_condition(cond)
            col = ("", "clean") if cond == "clean" else (nz, f"{snr:g} dB" if snr is not None else cond)
            table.set(f"{prefix}: {row_label(init, mode, task)}", col, fmt.cell(groups[key], "accuracy", cond))
    table.row_header = "Task: method"
    table.notes.append(f"Label fraction {fraction:g}.")
    return table


def small_data(runs, fmt, fraction=None):
    """Main clean metric per label fraction: does SSL init help when labels are scarce?"""
    table = Table("small_data", "Main metric per fraction of labelled training data")
    multi_ds = len(_datasets(runs)) > 1
    groups = group_runs(runs, lambda r: (r.tag("task"), r.tag("dataset"), r.tag("init"), r.tag("mode")))
    fractions = sorted({r.fraction for r in runs})
    for key in sorted(groups, key=lambda k: (order_index(k[0], task_order()), k[1],
                                             order_index(k[2], INIT_ORDER), order_index(k[3], MODE_ORDER))):
        task, ds, init, mode = key
        metric = main_metric(task)
        label = f"{task_label(task)}/{ds}" if multi_ds else task_label(task)
        for f in fractions:
            rs = [r for r in groups[key] if abs(r.fraction - f) < 1e-9]
            table.set(f"{label} [{METRIC_LABELS[metric]}]: {row_label(init, mode, task)}", ("", fraction_label(f)),
                      fmt.cell(rs, metric))
    table.row_header = "Task [metric]: method"
    table.notes.append("Columns: fraction of labelled training clips (the subset is drawn per seed).")
    return table


def _setting(r: RunRecord) -> str:
    tag = r.tag("setting")
    if tag in ("low", "high"):
        return tag
    return "high" if r.fraction >= 1.0 - 1e-9 else "low"


def raven_wer(runs, fmt, fraction=None, reference: str = "base_lrs3"):
    """WER per init x (task, setting); with dataset lrs3 the published number and ours - published."""
    sel = [r for r in runs if r.tag("task") in ("vsr", "asr")]
    table = Table("raven_wer", "Sentence VSR / ASR word error rate (%)")
    datasets = _datasets(sel)
    groups = group_runs(sel, lambda r: (r.tag("task"), r.tag("dataset"), _setting(r), r.fraction,
                                        r.tag("init"), r.tag("mode")))
    ref_label = RAVEN_LRS3[reference][0]
    paper_rows_needed = False
    columns = sorted({k[:4] for k in groups}, key=lambda k: (order_index(k[0], ["vsr", "asr"]), k[1],
                                                             k[2] != "low", k[3]))
    rows = _sorted_rows(sel)
    for task, ds, setting, frac in columns:
        group = task.upper() + (f" ({ds})" if len(datasets) > 1 else "")
        hours = SETTING_HOURS[setting] if ds == "lrs3" else setting + "-resource"
        label = f"{hours}, f={frac:g}"
        for init, mode in rows:
            ours = fmt.cell(groups.get((task, ds, setting, frac, init, mode), []), "wer")
            table.set(row_label(init, mode), (group, label), ours)
            if ds != "lrs3":
                continue
            paper_rows_needed = True
            # the paper's number stands only beside our own RAVEn cell (it is RAVEn's result)
            pub = published_wer(reference, task, setting) if init == "raven" and ours is not None else None
            table.set(row_label(init, mode), (group, f"{label} paper"),
                      Published(pub, SOURCE) if pub is not None else None)
            delta = (Delta(round(ours.mean - pub, 6), ours.run_ids, fmt.decimals)
                     if pub is not None and fmt.percent else None)
            table.set(row_label(init, mode), (group, f"{label} Δ"), delta)
        if ds == "lrs3":
            for key, (name, _) in RAVEN_LRS3.items():
                pub = published_wer(key, task, setting)
                table.set(f"RAVEn paper: {name}", (group, f"{label} paper"), Published(pub, SOURCE))
    table.row_header = "Init, mode"
    table.notes.append("RAVEn rows: video encoder for VSR, audio encoder for ASR.")
    table.notes.append("Setting: label fraction 1.0 = high resource, < 1.0 = low resource (a `setting` tag on "
                       "the evaluate run overrides). Beam-search WER on the clean test set.")
    if paper_rows_needed:
        table.notes.append(f"'paper' = {SOURCE}; our RAVEn rows are compared with {ref_label} "
                           "(Δ = ours - paper, negative is better).")
    table.drop_empty_rows()
    return table


def cross_paper(runs, fmt, fraction):
    """Every pre-training init x every task, main clean metric (accuracy / CCC mean / WER)."""
    tasks = set(task_order()) | {r.tag("task") for r in runs}
    sel = _main(runs, fraction, tasks)
    table = Table("cross_paper", "Every pre-training init on every task (main clean metric)")
    groups = group_runs(sel, lambda r: (r.tag("task"), r.tag("dataset"), r.tag("init"), r.tag("mode")))
    cols = sorted({k[:2] for k in groups}, key=lambda k: (order_index(k[0], task_order()), k[1]))
    for init, mode in _sorted_rows(sel):
        for task, ds in cols:
            metric = main_metric(task)
            table.set(row_label(init, mode), (ds, f"{task_label(task)} {METRIC_LABELS[metric]}"),
                      fmt.cell(groups.get((task, ds, init, mode), []), metric))
    table.row_header = "Init, mode"
    table.notes.append(f"Label fraction {fraction:g}. Acc/WER in %, CCC = mean of arousal and valence CCC. "
                       f"RAVEn: audio encoder for audio tasks, video encoder for {' and '.join(video_tasks())}.")
    return table


def with_uncertainty_note(table: Table) -> Table:
    """Every table states n and how its intervals were computed (the note is derived from its cells)."""
    table.notes.append(uncertainty_note(table.cells.values()))
    return table


BUILDERS: dict[str, Callable[..., Table]] = {
    "emotion": emotion, "affect": affect, "words": words, "noise": noise, "small_data": small_data,
    "raven_wer": raven_wer, "cross_paper": cross_paper,
}
