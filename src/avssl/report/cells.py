"""A table cell: mean ± std over seeds, carrying the MLflow run ids it was computed from."""

from __future__ import annotations

import math
from dataclasses import dataclass

MISSING = "–"  # en dash: a configuration with no finished run


@dataclass(frozen=True)
class Cell:
    values: tuple[float, ...]
    run_ids: tuple[str, ...]
    decimals: int = 1

    @classmethod
    def of(cls, pairs: list[tuple[float, str]], decimals: int = 1, scale: float = 1.0) -> "Cell | None":
        """Cell from (value, run_id) pairs; non-finite values are dropped; None when nothing is left."""
        good = [(v * scale, rid) for v, rid in pairs if v is not None and math.isfinite(v)]
        if not good:
            return None
        return cls(tuple(v for v, _ in good), tuple(r for _, r in good), decimals)

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

    def text(self, pm: str = " ± ") -> str:
        body = f"{self.mean:.{self.decimals}f}"
        return body + (f"{pm}{self.std:.{self.decimals}f}" if self.n > 1 else "")


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
