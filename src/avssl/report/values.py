"""From runs to cells: pick a metric of a condition from each run, scale, and aggregate over seeds."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable

from avssl.report.cells import Cell
from avssl.report.labels import PERCENT_METRICS
from avssl.report.runs import RunRecord
from avssl.tracking.metric_keys import ci95_key, metric_key


def metric_value(run: RunRecord, metric: str, condition: str = "clean") -> float | None:
    """`<metric>.<condition>`; ccc_mean is the mean of arousal and valence CCC of the same run."""
    if metric == "ccc_mean":
        a, v = run.metrics.get(f"ccc_arousal.{condition}"), run.metrics.get(f"ccc_valence.{condition}")
        return None if a is None or v is None else (a + v) / 2
    return run.metrics.get(metric_key(metric, condition))


class Formatter:
    """Scale (fraction -> %) and decimals per metric, from ReportParams."""

    def __init__(self, percent: bool = True, decimals: int = 1, ccc_decimals: int = 3):
        self.percent, self.decimals, self.ccc_decimals = percent, decimals, ccc_decimals

    def scale(self, metric: str) -> float:
        return 100.0 if self.percent and metric in PERCENT_METRICS else 1.0

    def digits(self, metric: str) -> int:
        return self.ccc_decimals if metric.startswith("ccc") else self.decimals

    def cell(self, runs: Iterable[RunRecord], metric: str, condition: str = "clean") -> Cell | None:
        runs = list(runs)
        pairs = [(metric_value(r, metric, condition), r.run_id) for r in runs]
        interval = clip_interval(runs[0], metric, condition) if len(runs) == 1 else None
        return Cell.of(pairs, decimals=self.digits(metric), scale=self.scale(metric), clip_interval=interval)


def clip_interval(run: RunRecord, metric: str, condition: str) -> tuple[float, float] | None:
    """The run's 95 % interval over test clips (logged by the evaluation as ci95_low/high/<metric>.<cond>)."""
    low, high = (run.metrics.get(ci95_key(metric_key(metric, condition), end)) for end in ("low", "high"))
    return None if low is None or high is None else (low, high)


def group_runs(runs: Iterable[RunRecord], key: Callable[[RunRecord], tuple]) -> dict[tuple, list[RunRecord]]:
    """Runs that differ only by seed land in the same group (mean ± std over seeds)."""
    out: dict[tuple, list[RunRecord]] = defaultdict(list)
    for r in runs:
        out[key(r)].append(r)
    for rs in out.values():
        rs.sort(key=lambda r: r.seed)
    return dict(out)


def conditions(runs: Iterable[RunRecord], metric: str) -> set[str]:
    prefix = metric + "."
    return {k[len(prefix):] for r in runs for k in r.metrics if k.startswith(prefix)}
