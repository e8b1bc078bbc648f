"""Verification of the licensed corpora (LRS3, LRW, VoxCeleb2, IEMOCAP), which cannot be downloaded here.

``verify`` counts the media files where each corpus' release puts them and compares with the released
counts (override a minimum with ``datasets.min_files['<name>/<check>']`` to work on a subset). When
anything is missing it raises :class:`DatasetMissingError` whose message says how to obtain the data and
where to put it, instead of failing later with a confusing empty index.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class DatasetMissingError(RuntimeError):
    """A licensed corpus is absent or incomplete; the message holds the instructions."""


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


def _lrw_base(root: Path) -> Path:
    return root / "lipread_mp4" if (root / "lipread_mp4").is_dir() else root


@dataclass(frozen=True)
class Check:
    key: str
    what: str
    count: Callable[[Path], int]
    expected: int


CHECKS: dict[str, tuple[Check, ...]] = {
    "lrs3": (
        Check("pretrain", "pretrain/<speaker>/<utt>.mp4", lambda r: count_files(r / "pretrain", ".mp4"), 118516),
        Check("trainval", "trainval/<speaker>/<utt>.mp4", lambda r: count_files(r / "trainval", ".mp4"), 31982),
        Check("test", "test/<speaker>/<utt>.mp4", lambda r: count_files(r / "test", ".mp4"), 1321),
    ),
    "lrw": (
        Check("train", "WORD/train/WORD_NNNNN.mp4", lambda r: count_files(_lrw_base(r), ".mp4", "train"), 488766),
        Check("val", "WORD/val/WORD_NNNNN.mp4", lambda r: count_files(_lrw_base(r), ".mp4", "val"), 25000),
        Check("test", "WORD/test/WORD_NNNNN.mp4", lambda r: count_files(_lrw_base(r), ".mp4", "test"), 25000),
    ),
    "voxceleb2": (
        Check("dev", "dev/mp4/id*/<video>/<utt>.mp4", lambda r: count_files(r, ".mp4", "dev"), 1092009),
        Check("test", "test mp4/id*/<video>/<utt>.mp4", lambda r: count_files(r, ".mp4") - count_files(r, ".mp4", "dev"), 36237),
    ),
    "iemocap": tuple(
        Check(f"session{s}", f"Session{s}/sentences/wav/<dialog>/<turn>.wav", lambda r, s=s: count_files(r / f"Session{s}" / "sentences" / "wav", ".wav"), n)
        for s, n in ((1, 1819), (2, 1811), (3, 2136), (4, 2103), (5, 2170))
    ),
}

INSTRUCTIONS = {
    "lrs3": "LRS3-TED is licensed by the Oxford VGG group (https://mmai.io/datasets/lip_reading/). Sign the "
    "data-sharing agreement, download lrs3_pretrain/trainval/test zips, and unzip them so that ROOT holds "
    "pretrain/, trainval/ and test/ (each <speaker>/<utt>.mp4 + .txt).",
    "lrw": "LRW is licensed by BBC R&D / Oxford VGG (https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrw1.html). "
    "After approval download lrw-v1 parts, `cat` them and untar so that ROOT holds lipread_mp4/<WORD>/{train,val,test}/.",
    "voxceleb2": "VoxCeleb2 is distributed by Oxford VGG on request (https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox2.html). "
    "Download vox2_dev_mp4 (concatenate the parts) and vox2_test_mp4, unzip both into ROOT (dev/mp4/id*/... and mp4/id*/... "
    "under vox2_test_mp4/ are both recognised).",
    "iemocap": "IEMOCAP is licensed by USC SAIL (https://sail.usc.edu/iemocap/, release form). Unpack "
    "IEMOCAP_full_release so that ROOT holds Session1..Session5/ (dialog/EmoEvaluation, dialog/avi/DivX, sentences/wav).",
}


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
