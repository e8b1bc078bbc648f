"""The protocol every task kind implements, and the defaults most kinds share.

A fine-tuning job asks its task's kind, in order: which rows carry targets (:meth:`TaskKind.rows`), the class
list (:meth:`classes`), what to fit before the model (:meth:`prepare`, e.g. a tokenizer), how an index row
becomes batch targets (:meth:`targets`), the objective (:meth:`build`), the batch size in frames
(:meth:`batch_frames`) and how many epoch snapshots to average (:meth:`snapshots`). Evaluation asks for
prediction rows (:meth:`predict`), metrics from those rows (:meth:`score`), the metrics a bootstrap interval is
computed for (:meth:`interval_metrics`) and extra plots (:meth:`plots`). Import-light: torch is imported by the
objectives, on call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from avssl.registry.tasks import Task


def records(index) -> Iterable[dict]:
    """An index (DataFrame) or a list of rows, as rows."""
    return index.to_dict("records") if hasattr(index, "to_dict") else index


def has_label(row: dict, column: str) -> bool:
    v = row.get(column)
    return v is not None and str(v).strip() not in ("", "nan", "None")


class TaskKind:
    """Defaults: a row belongs to the task when its first label column is filled; no classes, nothing to prepare,
    batches of ``batch_size`` typical clips, no snapshot averaging, no extra plots."""

    def rows(self, rows, task: Task) -> list[dict]:
        return [r for r in records(rows) if has_label(r, task.label_columns[0])]

    def classes(self, rows: list[dict], task: Task) -> list[str] | None:
        return None

    def prepare(self, train_rows: list[dict], p: Any, output_dir: Path):
        """What the model needs fitted on the training rows before it is built (a tokenizer); None = nothing."""
        return None

    def targets(self, task: Task, classes, tokenizer, annotations) -> Callable[[dict], dict]:
        raise NotImplementedError

    def model_options(self, params: Any, classes, tokenizer) -> dict:
        """Keyword arguments of :meth:`build` that come from outside the task's own section."""
        return {}

    def build(self, task: Task, encoder, feat_dim: int, p: Any, *, freeze_encoder: bool = False,
              noise_augment=None, **options):
        raise NotImplementedError

    def batch_frames(self, p: Any, typical_frames: int) -> int:
        return max(1, p.batch_size) * max(1, typical_frames)

    def snapshots(self, p: Any) -> int:
        return 1

    def predict(self, model, batch: dict, params: Any, classes) -> list[dict]:
        raise NotImplementedError

    def score(self, rows: list[dict], task: Task, classes) -> dict[str, float]:
        raise NotImplementedError

    def interval_metrics(self, task: Task) -> tuple[str, ...]:
        return task.metrics

    def plots(self, rows: list[dict], classes, output_dir: Path, title: str) -> list[Path]:
        return []


def head_options(p: Any) -> dict:
    """The BiGRU heads' keyword arguments from a ClassifierTaskParams section (classification and affect)."""
    return dict(hidden=p.hidden, layers=p.layers, dropout=p.dropout, lr_head=p.lr_head, lr_encoder=p.lr_encoder,
                weight_decay=p.weight_decay, betas=tuple(p.betas), feature_norm=p.frozen_feature_norm,
                optimizer=p.optimizer)  # fmt: skip
