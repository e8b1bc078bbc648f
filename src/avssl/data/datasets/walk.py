"""Deterministic file listing shared by the adapters.

Hidden entries (names starting with ``.``) are skipped: the acquisition step keeps its archives and lock
file under ``<root>/.downloads`` and OS litter (``.DS_Store``) is not data. File extensions are matched in any
case (``.MP4`` from a camera or a Windows copy is the same media): adapters look files up through
:func:`by_extension`, keyed with the extension in lower case. An MLflow store
(``mlflow.db*``, ``mlartifacts/``, ``mlruns/``) that a stage run inside the dataset folder left there is skipped too.
"""

from __future__ import annotations

import os
from pathlib import Path

from avssl.tracking.store import is_store_entry


def lower_ext(rel: str) -> str:
    """``rel`` with its extension (the part after the last dot of the file name) in lower case."""
    head, dot, ext = rel.rpartition(".")
    return f"{head}.{ext.lower()}" if dot and "/" not in ext else rel


def by_extension(files: list[str]) -> dict[str, str]:
    """{path with lower-case extension: the path as it is on disk}, to find siblings whatever their case."""
    return {lower_ext(rel): rel for rel in files}


def find_file(root: Path, rel: str) -> str | None:
    """``rel`` as it is on disk under ``root`` (its extension in any case), or None when there is no such file."""
    if (Path(root) / rel).is_file():
        return rel
    folder = (Path(root) / rel).parent
    if not folder.is_dir():
        return None
    want = lower_ext(Path(rel).name)
    hit = next((p.name for p in sorted(folder.iterdir()) if p.is_file() and lower_ext(p.name) == want), None)
    return None if hit is None else str(Path(rel).with_name(hit).as_posix())


def walk_files(root: Path, sub: str = "") -> list[str]:
    """Relative POSIX paths (relative to ``root``) of every non-hidden file under ``root/sub``, sorted."""
    base = Path(root) / sub if sub else Path(root)
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not is_store_entry(d))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in filenames:
            if not name.startswith(".") and not is_store_entry(name):
                out.append(name if rel_dir == "." else f"{rel_dir}/{name}")
    return sorted(out)
