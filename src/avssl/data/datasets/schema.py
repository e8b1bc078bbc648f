"""The clip index: one schema shared by every dataset adapter.

Downstream code (preprocessing, tasks) never parses corpus-specific file names; it reads this CSV. So every
adapter fills the same columns, labels are human-readable names (``angry``, not ``ANG`` or ``05``) and
media paths are relative to the dataset root (the root itself comes from params, so an index stays valid
when the corpus moves).

Columns (empty string = not applicable / unknown):

=================  ==========================================================================================
dataset            registry name of the corpus (``lrs3``, ``crema_d``, ...)
clip_id            unique within the index; may contain ``/`` (then it mirrors the corpus' relative path)
split              ``train`` | ``val`` | ``test`` (or ``noise`` for Speech Commands background noise)
fold               speaker-independent fold number of the clip's speaker (CREMA-D, RAVDESS, IEMOCAP)
speaker            speaker / actor id (LRS3: YouTube-video folder, a proxy; LRW: empty, not released)
kind               ``sentence`` | ``word`` | ``segment`` (part of a long utterance) | ``unlabelled`` | ``noise``
subset             the corpus' own partition the clip comes from (``pretrain``, ``trainval``, ``Session1``...)
text               transcript (upper case for LRS3/LRW as released; sentence text for CREMA-D/RAVDESS)
word               isolated-word label (LRW, Speech Commands)
emotion            categorical emotion name
intensity          emotion intensity as released (``low``/``medium``/``high``/``unspecified``, ``normal``/``strong``)
valence, arousal,  clip-level dimensional ratings on the corpus' own scale (IEMOCAP: 1-5)
dominance
annotations        path to per-frame annotation arrays (e.g. arousal[T], valence[T]) when the corpus has them
video, audio       media paths relative to the dataset root (audio may equal video: the mp4's audio track)
start, end         segment bounds in seconds within ``video`` (empty = whole file); also within ``audio``
                   unless audio_start/audio_end say otherwise
audio_start,       segment bounds in seconds within ``audio`` when it differs from the video timeline
audio_end          (one of them set and the other empty = open end: ``audio_start`` 0 = the whole file)
n_frames           number of 25 fps video frames when fixed by the corpus (LRW: 29)
=================  ==========================================================================================
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

SPLITS = ("train", "val", "test", "noise")


@dataclass
class ClipRow:
    """One row of the clip index (see the module docstring for the meaning of each column)."""

    dataset: str
    clip_id: str
    split: str
    speaker: str = ""
    kind: str = ""
    subset: str = ""
    fold: int | str = ""
    text: str = ""
    word: str = ""
    emotion: str = ""
    intensity: str = ""
    valence: float | str = ""
    arousal: float | str = ""
    dominance: float | str = ""
    annotations: str = ""
    video: str = ""
    audio: str = ""
    start: float | str = ""
    end: float | str = ""
    audio_start: float | str = ""
    audio_end: float | str = ""
    n_frames: int | str = ""


COLUMNS = tuple(f.name for f in fields(ClipRow))


@dataclass
class Problem:
    """A file or record that did not become a row, or a row with something missing, and why.

    Problems are data, not log lines: they are written next to the index so that a reviewer can see what
    an adapter left out instead of discovering a silently smaller dataset.
    """

    dataset: str
    path: str
    reason: str


PROBLEM_COLUMNS = tuple(f.name for f in fields(Problem))


def _fmt(value: object) -> object:
    """Floats with a fixed, short precision so that re-indexing the same tree gives a byte-identical CSV."""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else ""
    return value


def write_index(rows: list[ClipRow], path: str | Path) -> Path:
    """Write rows as CSV with the documented columns (sorted by clip_id: deterministic output for DVC)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in sorted(rows, key=lambda r: r.clip_id):
            writer.writerow({k: _fmt(v) for k, v in asdict(row).items()})
    tmp.replace(path)
    return path


def write_problems(problems: list[Problem], path: str | Path) -> Path:
    """Write problems as CSV (dataset, path, reason); written even when empty so its absence means 'not run'."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=PROBLEM_COLUMNS)
        writer.writeheader()
        for p in sorted(problems, key=lambda p: (p.path, p.reason)):
            writer.writerow(asdict(p))
    return path


def read_index(path: str | Path) -> list[dict[str, str]]:
    """Read an index back as plain dicts of strings (consumers convert the columns they use)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
