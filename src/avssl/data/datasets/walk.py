"""Deterministic file listing shared by the adapters.

Hidden entries (names starting with ``.``) are skipped: the acquisition step keeps its archives and lock
file under ``<root>/.downloads`` and OS litter (``.DS_Store``) is not data. File extensions are matched in any
case (``.MP4`` from a camera or a Windows copy is the same media): adapters look files up through
:func:`by_extension`, keyed with the extension in lower case.
"""

from __future__ import annotations

import os
from pathlib import Path


def lower_ext(rel: str) -> str:
    """``rel`` with its extension (the part after the last dot of the file name) in lower case."""
    head, dot, ext = rel.rpartition(".")
    return f"{head}.{ext.lower()}" if dot and "/" not in ext else rel


def by_extension(files: list[str]) -> dict[str, str]:
    """{path with lower-case extension: the path as it is on disk}, to find siblings whatever their case."""
    return {lower_ext(rel): rel for rel in files}


def walk_files(root: Path, sub: str = "") -> list[str]:
    """Relative POSIX paths (relative to ``root``) of every non-hidden file under ``root/sub``, sorted."""
    base = Path(root) / sub if sub else Path(root)
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in filenames:
            if not name.startswith("."):
                out.append(name if rel_dir == "." else f"{rel_dir}/{name}")
    return sorted(out)
