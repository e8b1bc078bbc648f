"""A report table as plain data (rows x grouped columns of cells) and its notes.

Builders fill a :class:`Table`; the writers in :mod:`avssl.report.render` turn the same object into
Markdown, LaTeX and CSV, so the three formats can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from avssl.report.cells import Cell, Delta, Published

Value = Cell | Published | Delta | None
Column = tuple[str, str]  # (group, label); group "" = no group header


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    cells: dict[tuple[str, Column], Value] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    row_header: str = "Method"

    def add_column(self, column: Column) -> None:
        if column not in self.columns:
            self.columns.append(column)

    def add_row(self, row: str) -> None:
        if row not in self.rows:
            self.rows.append(row)

    def set(self, row: str, column: Column, value: Value) -> None:
        self.add_row(row)
        self.add_column(column)
        self.cells[(row, column)] = value

    def get(self, row: str, column: Column) -> Value:
        return self.cells.get((row, column))

    def is_empty(self) -> bool:
        """True when no cell comes from a run (published numbers alone do not make a table)."""
        return not any(isinstance(v, Cell) for v in self.cells.values())

    def drop_empty_rows(self) -> None:
        """Rows with no value from a run or a paper (e.g. an init never run on this task) are noise."""
        self.rows = [r for r in self.rows if any(self.get(r, c) is not None for c in self.columns)]

    def run_ids(self) -> list[str]:
        ids: list[str] = []
        for v in self.cells.values():
            if isinstance(v, (Cell, Delta)):
                ids += [i for i in v.run_ids if i not in ids]
        return ids
