"""Figures of the report (PNG, Agg backend) and the CSV behind each one, so `dvc plots show` can use CSV.

Each CSV row carries `panel` (one small chart per value) and `series` (one line per value): the DVC template
`.dvc/plots/avssl_lines*.json` facets and colours by them, so every line is one curve of the PNG.

Every function takes plain data (RunRecords, metric histories) and writes files; no MLflow here.
"""

from __future__ import annotations

import csv
from pathlib import Path

from avssl.report.labels import (
    INIT_ORDER, METRIC_LABELS, MODE_ORDER, main_metric, order_index, parse_condition, row_label, task_order,
)
from avssl.report.runs import RunRecord
from avssl.report.values import Formatter, conditions, group_runs


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_png(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def _series_key(k: tuple) -> tuple:
    return order_index(k[0], INIT_ORDER) + order_index(k[1], MODE_ORDER)


def training_curves(runs: list[RunRecord], histories: dict[str, dict[str, list[tuple[int, float]]]],
                    out_dir: Path) -> list[Path]:
    """One PNG per pre-training run (one panel per logged train/* and val/* loss), plus training_curves.csv."""
    plt = _plt()
    rows, paths = [], []
    for run in runs:
        hist = histories.get(run.run_id, {})
        keys = sorted(k for k in hist if hist[k])
        if not keys:
            continue
        method = run.tag("method", run.run_id[:8])
        for k in keys:
            rows += [{"panel": k, "series": method, "method": method, "run_id": run.run_id, "metric": k, "step": s,
                      "value": v} for s, v in hist[k]]  # fmt: skip
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
        for ax, k in zip(axes[0], keys):
            steps, vals = zip(*sorted(hist[k]))
            ax.plot(steps, vals)
            ax.set(title=k, xlabel="step")
        fig.suptitle(f"pre-training {method} (run {run.run_id[:8]})")
        paths.append(_save_png(plt, fig, out_dir / f"training_curves_{method}.png"))
    if rows:
        fields = ["panel", "series", "method", "run_id", "metric", "step", "value"]
        paths.append(_write_csv(out_dir / "training_curves.csv", fields, rows))
    return paths


def snr_curves(runs: list[RunRecord], fmt: Formatter, fraction: float, out_dir: Path) -> list[Path]:
    """Main metric vs SNR per init (and mode), one panel per noise type, one PNG per task; snr_curves.csv."""
    plt = _plt()
    rows, paths = [], []
    sel = [r for r in runs if abs(r.fraction - fraction) < 1e-9]
    by_task = group_runs(sel, lambda r: (r.tag("task"),))
    for (task,) in sorted(by_task, key=lambda k: order_index(k[0], task_order())):
        metric = main_metric(task)
        trs = by_task[(task,)]
        probe = "ccc_arousal" if metric == "ccc_mean" else metric
        noises = sorted({parse_condition(c)[0] for c in conditions(trs, probe) if parse_condition(c)[1] is not None})
        if not noises:
            continue
        series = group_runs(trs, lambda r: (r.tag("init"), r.tag("mode"), r.tag("dataset")))
        fig, axes = plt.subplots(1, len(noises), figsize=(5 * len(noises), 3.5), squeeze=False)
        for ax, nz in zip(axes[0], noises):
            for key in sorted(series, key=_series_key):
                pts = []
                conds = [c for c in conditions(series[key], probe) if parse_condition(c)[0] == nz]
                for cond in sorted(conds, key=lambda c: parse_condition(c)[1]):
                    cell = fmt.cell(series[key], metric, cond)
                    if cell is None:
                        continue
                    snr = parse_condition(cond)[1]
                    pts.append((snr, cell.mean, cell.std))
                    rows.append({"panel": f"{task} ({key[2]}): {METRIC_LABELS.get(metric, metric)}, {nz} noise",
                                 "series": row_label(key[0], key[1], task),
                                 "task": task, "dataset": key[2], "init": key[0], "mode": key[1], "noise": nz,
                                 "snr": snr, "metric": metric, "mean": cell.mean, "std": cell.std, "n": cell.n,
                                 "run_ids": ";".join(cell.run_ids)})
                if pts:
                    x, y, e = zip(*pts)
                    ax.errorbar(x, y, yerr=e, marker="o", capsize=2, label=row_label(key[0], key[1], task))
            ax.set(title=f"{task}: {nz} noise", xlabel="SNR (dB)", ylabel=METRIC_LABELS.get(metric, metric))
            ax.legend(fontsize=6)
        paths.append(_save_png(plt, fig, out_dir / f"snr_curves_{task}.png"))
    if rows:
        paths.append(_write_csv(out_dir / "snr_curves.csv", list(rows[0]), rows))
    return paths


def label_fraction_curves(runs: list[RunRecord], fmt: Formatter, out_dir: Path) -> list[Path]:
    """Main clean metric vs label fraction per init (and mode), one PNG per task; label_fraction.csv."""
    plt = _plt()
    rows, paths = [], []
    by_task = group_runs(runs, lambda r: (r.tag("task"),))
    for (task,) in sorted(by_task, key=lambda k: order_index(k[0], task_order())):
        trs = by_task[(task,)]
        if len({r.fraction for r in trs}) < 2:
            continue
        metric = main_metric(task)
        series = group_runs(trs, lambda r: (r.tag("init"), r.tag("mode"), r.tag("dataset")))
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for key in sorted(series, key=_series_key):
            pts = []
            for f in sorted({r.fraction for r in series[key]}):
                cell = fmt.cell([r for r in series[key] if abs(r.fraction - f) < 1e-9], metric)
                if cell is None:
                    continue
                pts.append((f, cell.mean, cell.std))
                rows.append({"panel": f"{task} ({key[2]}): {METRIC_LABELS.get(metric, metric)}",
                             "series": row_label(key[0], key[1], task),
                             "task": task, "dataset": key[2], "init": key[0], "mode": key[1], "fraction": f,
                             "metric": metric, "mean": cell.mean, "std": cell.std, "n": cell.n,
                             "run_ids": ";".join(cell.run_ids)})
            if pts:
                x, y, e = zip(*pts)
                ax.errorbar(x, y, yerr=e, marker="o", capsize=2, label=row_label(key[0], key[1], task))
        ax.set(xscale="log", title=task, xlabel="label fraction", ylabel=METRIC_LABELS.get(metric, metric))
        ax.legend(fontsize=6)
        paths.append(_save_png(plt, fig, out_dir / f"label_fraction_{task}.png"))
    if rows:
        paths.append(_write_csv(out_dir / "label_fraction.csv", list(rows[0]), rows))
    return paths
