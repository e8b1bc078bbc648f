"""Training-curve figure (loss terms and learning rates against steps), rendered headless with Agg."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Write a PNG with the objective's terms (left, log scale when all positive), learning rates (middle) and,
    when logged, the representation-health statistics (right; ``health/*``, see avssl.training.health).

    ``history`` rows are the loop's logged metrics: ``train/*`` are the objective's outputs, ``lr/*`` per
    optimiser; ``val/*`` values (if any) are drawn as points.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = [h["step"] for h in history]
    health_keys = sorted({k for h in history for k in h if k.startswith("health/")})
    panels = 3 if health_keys else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels + (2.5 if health_keys else 0), 3.6), constrained_layout=True)
    ax_loss, ax_lr = axes[0], axes[1]
    loss_keys = sorted({k for h in history for k in h if k.startswith(("train/", "val/"))})
    positive = True
    for key in loss_keys:
        pts = [(h["step"], h[key]) for h in history if key in h]
        xs, ys = zip(*pts) if pts else ((), ())
        positive = positive and all(y > 0 for y in ys)
        ax_loss.plot(xs, ys, label=key.split("/", 1)[1], lw=2 if key == "train/loss" else 1, marker="." if len(xs) < 30 else None)
    if positive and loss_keys:
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title(title or "training losses")
    if loss_keys:
        ax_loss.legend(fontsize=8)
    for key in sorted({k for h in history for k in h if k.startswith("lr/")}):
        ax_lr.plot(steps, [h.get(key, float("nan")) for h in history], label=key.split("/", 1)[1])
    ax_lr.set_xlabel("step")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_title("learning rate")
    if ax_lr.lines:
        ax_lr.legend(fontsize=8)
    if health_keys:
        ax = axes[2]
        for key in health_keys:
            pts = [(h["step"], h[key]) for h in history if key in h]
            ax.plot(*zip(*pts), label=key.split("/", 1)[1], lw=1)
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_xlabel("step")
        ax.set_title("representation health (collapse -> std 0, rank 1, cos 1)")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
