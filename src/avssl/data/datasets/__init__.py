"""Adapters from real corpora (LRS3, LRW, VoxCeleb2, CREMA-D, RAVDESS, IEMOCAP, Speech Commands) to one clip index.

``index_dataset(name, root)`` returns ``(rows, problems)``; ``write_index`` writes the CSV whose columns are
documented in :mod:`avssl.data.datasets.schema`; ``write_problems`` writes what was left out and why.
"""

from __future__ import annotations

from pathlib import Path

from avssl.config.datasets import DatasetsParams
from avssl.data.datasets.registry import ADAPTERS, get_adapter
from avssl.data.datasets.schema import COLUMNS, ClipRow, Problem, read_index, write_index, write_problems

__all__ = [
    "ADAPTERS", "COLUMNS", "ClipRow", "Problem", "index_dataset", "index_to_files", "problems_path", "read_index",
    "write_index", "write_problems",
]


def index_dataset(name: str, root: str | Path, params: DatasetsParams | None = None) -> tuple[list[ClipRow], list[Problem]]:
    """Scan ``root`` with the adapter of ``name``; a missing root is an error, everything else a problem row."""
    adapter = get_adapter(name)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: dataset root {root} does not exist (see `avssl acquire --dataset {name}`)")
    rows, problems = adapter.index(root, params or DatasetsParams())
    ids = [r.clip_id for r in rows]
    if len(ids) != len(set(ids)):
        raise RuntimeError(f"{name}: adapter produced duplicate clip ids")
    return rows, problems


def problems_path(index_path: str | Path) -> Path:
    """Where the problems of an index are written (see :func:`index_to_files`)."""
    p = Path(index_path)
    return p.with_name("problems.csv" if p.stem == "index" else f"{p.stem}.problems.csv")


def _inside(path: Path, root: str | Path) -> str | None:
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return None


def index_to_files(name: str, root: str | Path, output: str | Path, params: DatasetsParams | None = None) -> dict:
    """Index and write ``output`` plus its problems next to it; returns counts for logging.

    The problems file is ``problems.csv`` when the index is named ``index.csv``, else ``<stem>.problems.csv``
    (several datasets' indexes can share one folder).
    """
    rows, problems = index_dataset(name, root, params)
    # An index written into the root it describes (and its problems file) is ours, not a stray data file.
    own = {_inside(f, root) for f in (Path(output), problems_path(output))} - {None}
    problems = [p for p in problems if p.path not in own]
    out = write_index(rows, output)
    write_problems(problems, problems_path(out))
    counts = {"clips": len(rows), "problems": len(problems)}
    for split in ("train", "val", "test", "noise"):
        counts[f"clips_{split}"] = sum(r.split == split for r in rows)
    return counts
