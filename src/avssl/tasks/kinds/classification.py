"""Utterance classification (emotion, isolated words): one class per clip, accuracy (and UAR) over clips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avssl.registry.tasks import Task
from avssl.tasks.kinds.base import TaskKind, has_label, head_options, records


def class_list(rows, column: str) -> list[str]:
    """Sorted distinct non-empty values of ``column`` (build from TRAINING rows so ids are stable)."""
    return sorted({str(r[column]) for r in records(rows) if has_label(r, column)})


class Classification(TaskKind):
    """Targets: class id = position of the label column's value in the TRAINING split's sorted class list."""

    def classes(self, rows: list[dict], task: Task) -> list[str]:
        return class_list(rows, task.label_columns[0])

    def targets(self, task: Task, classes, tokenizer, annotations):
        column = task.label_columns[0]
        lookup = {c: i for i, c in enumerate(classes or [])}
        return lambda meta: {"label": lookup[str(meta[column])]}

    def model_options(self, params: Any, classes, tokenizer) -> dict:
        return {"num_classes": len(classes)}

    def build(self, task: Task, encoder, feat_dim: int, p: Any, *, freeze_encoder: bool = False,
              noise_augment=None, num_classes: int, **_):
        from avssl.tasks.classification import ClassificationObjective

        return ClassificationObjective(encoder, task.modality, feat_dim, num_classes, freeze_encoder=freeze_encoder,
                                       label_smoothing=p.label_smoothing, noise_augment=noise_augment,
                                       **head_options(p))  # fmt: skip

    def predict(self, model, batch: dict, params: Any, classes) -> list[dict]:
        pred = model.predict(batch)["pred"].tolist()
        refs = batch["label"].tolist()
        return [{"clip_id": c, "decoder": "argmax", "reference": classes[r], "prediction": classes[p]}
                for c, r, p in zip(batch["clip_id"], refs, pred)]  # fmt: skip

    def score(self, rows: list[dict], task: Task, classes) -> dict[str, float]:
        from avssl.tasks import metrics as M

        labels = classes or sorted({r["reference"] for r in rows} | {r["prediction"] for r in rows})
        idx = {c: i for i, c in enumerate(labels)}
        pred = [idx[r["prediction"]] for r in rows]
        ref = [idx[r["reference"]] for r in rows]
        m = {"accuracy": M.accuracy(pred, ref)}
        if "uar" in task.metrics:
            m["uar"] = M.uar(pred, ref, len(labels))
        return m

    def interval_metrics(self, task: Task) -> tuple[str, ...]:
        from avssl.tasks.uncertainty import CLASSIFICATION

        return CLASSIFICATION if "uar" in task.metrics else ("accuracy",)

    def plots(self, rows: list[dict], classes, output_dir: Path, title: str) -> list[Path]:
        from avssl.tasks.plots import plot_confusion

        clean = [r for r in rows if r["condition"] == "clean"]
        plot_confusion(clean, classes, output_dir / "confusion_matrix.png", title=f"{title} (clean)")
        return [output_dir / "confusion_matrix.png"]
