"""How a corpus is obtained, declared in its adapter module: ``SOURCE`` (a public download) or ``CHECKS`` +
``INSTRUCTIONS`` (a licensed release that can only be verified). :mod:`avssl.data.acquire` acts on them.

A leaf module (no import of the acquire package), so adapters can declare these without an import circle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Archive:
    """One file to download; ``extract`` archives are unpacked into the dataset root."""

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    extract: bool = True
    dest: str = ""  # where a non-extracted file goes, relative to the dataset root


@dataclass(frozen=True)
class PublicDataset:
    name: str
    licence: str
    homepage: str
    archives: tuple[Archive, ...] = ()
    notes: str = ""
    manifest: Archive | None = None  # a listing from which per-file archives are derived (CREMA-D)
    extra: dict = field(default_factory=dict)
    files_from_manifest: Callable[[str, str], list[Archive]] | None = None  # (manifest text, media base) -> files


@dataclass(frozen=True)
class Check:
    """One count of a licensed release: ``count(root)`` must reach ``expected`` (or its min_files override)."""

    key: str
    what: str
    count: Callable[[Path], int]
    expected: int


def count_files(root: Path, suffix: str, must_contain: str | None = None) -> int:
    """Files ending in ``suffix`` under ``root`` (hidden entries skipped), optionally whose path has a component."""
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        parts = Path(dirpath).relative_to(root).parts
        if must_contain is not None and must_contain not in parts:
            continue
        n += sum(f.endswith(suffix) and not f.startswith(".") for f in filenames)
    return n
