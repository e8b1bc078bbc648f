"""Evaluation figures: metric versus SNR, and the confusion matrix (people would rather look than read)."""

from __future__ import annotations

from pathlib import Path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_snr_curve(per_condition: dict[str, dict], metric: str, path: Path, title: str = "") -> Path:
    """One line per noise type, SNR decreasing to the right, the clean value as a dashed line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    clean = per_condition.get("clean", {}).get(metric)
    series: dict[str, list[tuple[float, float]]] = {}
    for cond, vals in per_condition.items():
        if cond == "clean" or metric not in vals:
            continue
        noise, snr = cond.rsplit("_", 1)
        series.setdefault(noise, []).append((float(snr), vals[metric]))
    for noise, pts in sorted(series.items()):
        pts.sort(reverse=True)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=noise)
    if clean is not None:
        ax.axhline(clean, color="gray", linestyle="--", label="clean")
    ax.invert_xaxis()
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_confusion(rows: list[dict], classes: list[str], path: Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (rows = reference) with counts in the cells."""
    import numpy as np

    plt = _plt()
    idx = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(classes), len(classes)), dtype=int)
    for r in rows:
        m[idx[r["reference"]], idx[r["prediction"]]] += 1
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    size = max(4.0, 0.35 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    if len(classes) <= 12:
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
