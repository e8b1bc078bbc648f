"""What the report fetches from MLflow beyond run summaries: metric histories, confusion-matrix PNGs and the
per-clip predictions behind the 'what this run shows' comparisons."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from avssl.report.runs import RunRecord

TRAINING_PREFIXES = ("train/", "val/")


def metric_histories(client: Any, runs: list[RunRecord], prefixes=TRAINING_PREFIXES,
                     skip=("train/grad", )) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """run_id -> metric -> [(step, value)] for the loss-like metrics of each pre-training run."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for run in runs:
        keys = [k for k in run.metrics if k.startswith(prefixes) and not k.startswith(skip)]
        out[run.run_id] = {k: [(m.step, m.value) for m in client.get_metric_history(run.run_id, k)] for k in keys}
    return out


def _find(client: Any, run_id: str, name: str, path: str | None = None, depth: int = 2) -> str | None:
    """Artifact path of the first file called ``name`` (searched breadth-first, ``depth`` levels)."""
    try:
        entries = client.list_artifacts(run_id, path)
    except Exception:
        return None
    for e in entries:
        if not e.is_dir and Path(e.path).name == name:
            return e.path
    if depth > 0:
        for e in entries:
            if e.is_dir:
                hit = _find(client, run_id, name, e.path, depth - 1)
                if hit:
                    return hit
    return None


def copy_confusion_matrices(client: Any, runs: list[RunRecord], out_dir: Path,
                            name: str = "confusion_matrix.png") -> list[Path]:
    """Copy each evaluate run's confusion matrix to confusion/<task>-<dataset>-<init>-<mode>-f<f>-s<seed>.png."""
    paths = []
    for run in runs:
        art = _find(client, run.run_id, name)
        if art is None:
            continue
        stem = "-".join([run.tag("task"), run.tag("dataset"), run.tag("init"), run.tag("mode"),
                         f"f{run.fraction:g}", f"s{run.seed}"])
        dst = out_dir / "confusion" / f"{stem}.png"
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.parent / f".dl-{run.run_id}"
        try:
            tmp.mkdir(exist_ok=True)
            local = client.download_artifacts(run.run_id, art, str(tmp))
            shutil.copyfile(local, dst)
            paths.append(dst)
        except Exception:
            continue
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return paths


class PredictionLoader:
    """``loader(run)`` -> the evaluate run's predictions.csv rows (downloaded once, cached), or None if absent."""

    def __init__(self, client: Any):
        self.client, self._cache = client, {}

    def __call__(self, run: RunRecord) -> list[dict] | None:
        if run.run_id not in self._cache:
            self._cache[run.run_id] = self._load(run.run_id)
        return self._cache[run.run_id]

    def _load(self, run_id: str) -> list[dict] | None:
        import tempfile

        from avssl.tasks.evaluate import read_predictions

        with tempfile.TemporaryDirectory() as tmp:
            try:
                return read_predictions(self.client.download_artifacts(run_id, "predictions.csv", tmp))
            except Exception:  # noqa: BLE001 - a run without the artifact (or a store that lost it)
                return None
