"""Verification of the licensed corpora (their adapters' ``CHECKS``), which cannot be downloaded here.

``verify`` counts the media files where each corpus' release puts them and compares with the released
counts (override a minimum with ``datasets.min_files['<name>/<check>']`` to work on a subset). When
anything is missing it raises :class:`DatasetMissingError` whose message says how to obtain the data and
where to put it, instead of failing later with a confusing empty index.
"""

from __future__ import annotations

from pathlib import Path

from avssl.data.datasets.acquisition import Check, count_files
from avssl.registry import datasets

__all__ = ["CHECKS", "INSTRUCTIONS", "Check", "DatasetMissingError", "count_files", "verify"]


class DatasetMissingError(RuntimeError):
    """A licensed corpus is absent or incomplete; the message holds the instructions."""


def _licensed() -> tuple[dict[str, tuple[Check, ...]], dict[str, str]]:
    """Each licensed adapter's ``CHECKS`` and ``INSTRUCTIONS`` (avssl.registry.datasets)."""
    mods = {d.name: d.load() for d in datasets.DATASETS if d.access == "licensed"}
    mods = {name: m for name, m in mods.items() if hasattr(m, "CHECKS")}
    return {n: m.CHECKS for n, m in mods.items()}, {n: m.INSTRUCTIONS for n, m in mods.items()}


CHECKS, INSTRUCTIONS = _licensed()


def verify(name: str, root: str | Path, min_files: dict[str, int] | None = None) -> dict[str, int]:
    """File counts per check; raises :class:`DatasetMissingError` (with instructions) if any is short."""
    if name not in CHECKS:
        raise KeyError(f"{name!r} is not a licensed dataset; known: {', '.join(CHECKS)}")
    root = Path(root)
    min_files = min_files or {}
    counts: dict[str, int] = {}
    short: list[str] = []
    for check in CHECKS[name]:
        need = min_files.get(f"{name}/{check.key}", check.expected)
        have = check.count(root) if root.is_dir() else 0
        counts[check.key] = have
        if have < need:
            short.append(f"  - {check.key}: {have} of {need} files ({check.what})")
    if short:
        raise DatasetMissingError(
            f"{name} at {root} is missing or incomplete:\n" + "\n".join(short) + "\n"
            f"How to get it: {INSTRUCTIONS[name].replace('ROOT', str(root))}\n"
            f"To work on a subset, lower datasets.min_files['{name}/<check>'] in params.yaml."
        )
    return counts
