"""A table cell: mean and 95 % confidence interval, carrying the MLflow run ids it was computed from.

Several seeds: mean ± the half-width of the 95 % t-interval over seeds (what a re-run with new seeds would
vary by). One seed: the run's own 95 % interval over its test clips (clip bootstrap, logged by the evaluation),
shown as ``[low, high]``, so even a single-seed cell says how much one test set can move it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

MISSING = "–"  # en dash: a configuration with no finished run

# two-sided 95 % quantiles of Student's t, by degrees of freedom (n_seeds - 1); 1.96 beyond the table
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def t975(df: int) -> float:
    """Student's t 97.5 % quantile (conservative: the nearest tabulated df at or below ``df``)."""
    if df > 30:
        return 1.96
    return _T975[max(k for k in _T975 if k <= df)]


@dataclass(frozen=True)
class Cell:
    values: tuple[float, ...]
    run_ids: tuple[str, ...]
    decimals: int = 1
    clip_interval: tuple[float, float] | None = None  # one run: its 95 % interval over test clips

    @classmethod
    def of(cls, pairs: list[tuple[float, str]], decimals: int = 1, scale: float = 1.0,
           clip_interval: tuple[float, float] | None = None) -> "Cell | None":
        """Cell from (value, run_id) pairs; non-finite values are dropped; None when nothing is left.

        ``clip_interval`` (unscaled) is used only when a single run is left."""
        good = [(v * scale, rid) for v, rid in pairs if v is not None and math.isfinite(v)]
        if not good:
            return None
        interval = None
        if len(good) == 1 and clip_interval is not None and all(math.isfinite(b) for b in clip_interval):
            interval = (clip_interval[0] * scale, clip_interval[1] * scale)
        return cls(tuple(v for v, _ in good), tuple(r for _, r in good), decimals, interval)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / self.n

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1) over seeds; 0.0 for a single seed."""
        if self.n < 2:
            return 0.0
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (self.n - 1))

    @property
    def ci95(self) -> tuple[float, float] | None:
        """95 % interval: t-interval of the mean over seeds (n >= 2), else the run's interval over test clips."""
        if self.n >= 2:
            half = t975(self.n - 1) * self.std / math.sqrt(self.n)
            return (self.mean - half, self.mean + half)
        return self.clip_interval

    def text(self, pm: str = " ± ") -> str:
        d = self.decimals
        body = f"{self.mean:.{d}f}"
        if self.n >= 2:
            low, high = self.ci95
            return body + f"{pm}{(high - low) / 2:.{d}f}"
        if self.clip_interval is not None:
            return body + f" [{self.clip_interval[0]:.{d}f}, {self.clip_interval[1]:.{d}f}]"
        return body


def uncertainty_note(cells: Iterable[object]) -> str:
    """The caption line that says what the numbers of a table are: n and how the interval was computed."""
    ns = sorted({c.n for c in cells if isinstance(c, Cell)})
    if not ns:
        return "No finished runs."
    n_text = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}-{ns[-1]}"
    parts = [f"{n_text} seed(s) per cell."]
    if ns[-1] >= 2:
        parts.append("Cells with n >= 2: mean ± half-width of the 95 % confidence interval over seeds (Student's t).")
        parts.append("A seed varies the fine-tuning only (head init, data order, label subset): every pre-trained "
                     "encoder is one pre-training run (study.seed), so its own run-to-run variation is not in the "
                     "interval.")
    if ns[0] == 1:
        parts.append("Cells with n = 1: the single run's value [95 % interval over its test clips, percentile "
                     "bootstrap]; it shows test-set sampling only, not seed-to-seed variation.")
    return " ".join(parts)


@dataclass(frozen=True)
class Published:
    """A number copied from a paper (no run ids): shown beside ours, never averaged."""

    value: float
    source: str
    decimals: int = 1

    def text(self, pm: str = " ± ") -> str:
        return f"{self.value:.{self.decimals}f}"


@dataclass(frozen=True)
class Delta:
    """ours - published, signed."""

    value: float
    run_ids: tuple[str, ...]
    decimals: int = 1

    def text(self, pm: str = " ± ") -> str:
        return f"{self.value:+.{self.decimals}f}"
