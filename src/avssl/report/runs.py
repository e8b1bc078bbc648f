"""Read the study's runs from MLflow: the report's only source of numbers (no loose files).

Keeps FINISHED runs of one stage and, when a configuration was run several times (re-runs after a fix),
keeps only the latest start, so a table never averages a stale run into a cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

EVAL_KEY = ("task", "dataset", "init", "mode", "fraction", "seed")


@dataclass(frozen=True)
class RunRecord:
    """The part of an MLflow run the report needs (plain data, so builders are testable without MLflow)."""

    run_id: str
    tags: dict[str, str]
    metrics: dict[str, float]
    start_time: int = 0
    artifact_uri: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def tag(self, name: str, default: str = "") -> str:
        return self.tags.get(name, default)

    @property
    def fraction(self) -> float:
        try:
            return float(self.tags.get("fraction", "1.0"))
        except ValueError:
            return 1.0

    @property
    def seed(self) -> str:
        return self.tags.get("seed", "0")

    def key(self, names: Iterable[str] = EVAL_KEY) -> tuple:
        """Configuration identity; fraction normalised so '1' and '1.0' are the same cell."""
        return tuple(self.fraction if n == "fraction" else self.tags.get(n, "") for n in names)


def latest_per_key(runs: Iterable[RunRecord], names: Iterable[str] = EVAL_KEY) -> list[RunRecord]:
    """One run per configuration: the one started last (ties broken by run id for determinism)."""
    names = tuple(names)
    best: dict[tuple, RunRecord] = {}
    for r in runs:
        k = r.key(names)
        cur = best.get(k)
        if cur is None or (r.start_time, r.run_id) > (cur.start_time, cur.run_id):
            best[k] = r
    return sorted(best.values(), key=lambda r: tuple(str(x) for x in r.key(names)))


def search_stage_runs(client: Any, experiment_id: str, stage: str, max_runs: int = 50000) -> list[RunRecord]:
    """FINISHED runs tagged stage=<stage>, paged through MlflowClient.search_runs."""
    out: list[RunRecord] = []
    token = None
    while len(out) < max_runs:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.stage = '{stage}' and attributes.status = 'FINISHED'",
            max_results=min(1000, max_runs - len(out)),
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        for run in page:
            out.append(
                RunRecord(
                    run_id=run.info.run_id,
                    tags=dict(run.data.tags),
                    metrics=dict(run.data.metrics),
                    start_time=int(run.info.start_time or 0),
                    artifact_uri=run.info.artifact_uri or "",
                )
            )
        token = getattr(page, "token", None)
        if not token:
            break
    return out


def open_client(tracking_uri: str) -> Any:
    """MlflowClient for the store (imported lazily: mlflow costs seconds to import); a moved store is relocated."""
    from mlflow.tracking import MlflowClient

    from avssl.tracking.store import open_existing_store

    open_existing_store(tracking_uri)

    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(client: Any, name: str) -> str | None:
    exp = client.get_experiment_by_name(name)
    return None if exp is None else exp.experiment_id
