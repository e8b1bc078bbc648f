"""summary.json: the main numbers as a nested dict of floats, for `dvc metrics show` / `dvc metrics diff`."""

from __future__ import annotations

import re

from avssl.report.cells import Cell
from avssl.report.table import Table


def slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def table_means(table: Table) -> dict[str, dict[str, float]]:
    """row -> column -> mean of our cells (published numbers and deltas stay in the tables)."""
    out: dict[str, dict[str, float]] = {}
    for (row, col), v in table.cells.items():
        if isinstance(v, Cell):
            out.setdefault(slug(row), {})[slug(" ".join(p for p in col if p))] = round(v.mean, 6)
    return out


def build_summary(tables: dict[str, Table], n_evaluate: int, n_pretrain: int,
                  main: tuple[str, ...] = ("cross_paper", "raven_wer")) -> dict:
    summary: dict = {"runs": {"evaluate": n_evaluate, "pretrain": n_pretrain}}
    for name in main:
        if name in tables and not tables[name].is_empty():
            summary[name] = table_means(tables[name])
    return summary
