"""Deterministic file listing shared by the adapters.

Hidden entries (names starting with ``.``) are skipped: the acquisition step keeps its archives and lock
file under ``<root>/.downloads`` and OS litter (``.DS_Store``) is not data. So is an MLflow store
(``mlflow.db*``, ``mlartifacts/``, ``mlruns/``) that a stage run inside the dataset folder left there.
"""

from __future__ import annotations

import os
from pathlib import Path

from avssl.tracking.store import is_store_entry


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
