"""LRW adapter (Lip Reading in the Wild; licensed, BBC/Oxford VGG).

Layout: ``[lipread_mp4/]<WORD>/{train,val,test}/<WORD>_<5 digits>.mp4`` + ``.txt`` (``Text:  WORD``,
``Duration: 0.33 seconds`` = the word's length, centred in the clip). 500 words; every clip is 29 frames
(1.16 s) at 25 fps; 488,766 train, 25,000 val, 25,000 test clips. LRW releases no speaker ids, so
``speaker`` is empty: LRW's splits are its own and are used as released.
"""

from __future__ import annotations

import re
from pathlib import Path

from avssl.config.datasets import DatasetsParams
from avssl.data.datasets.acquisition import Check, count_files
from avssl.data.datasets.schema import ClipRow, Problem
from avssl.data.datasets.transcript import TranscriptError, parse_transcript
from avssl.data.datasets.walk import by_extension, walk_files

NAME = "lrw"

CHECKS = (
    Check("train", "WORD/train/WORD_NNNNN.mp4", lambda r: count_files(data_root(r), ".mp4", "train"), 488766),
    Check("val", "WORD/val/WORD_NNNNN.mp4", lambda r: count_files(data_root(r), ".mp4", "val"), 25000),
    Check("test", "WORD/test/WORD_NNNNN.mp4", lambda r: count_files(data_root(r), ".mp4", "test"), 25000),
)
INSTRUCTIONS = ("LRW is licensed by BBC R&D / Oxford VGG (https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrw1.html). "
                "After approval download lrw-v1 parts, `cat` them and untar so that ROOT holds lipread_mp4/<WORD>/{train,val,test}/.")
N_FRAMES = 29
SPLITS = {"train": "train", "val": "val", "test": "test"}
_CLIP = re.compile(r"^([A-Z']+)/(train|val|test)/\1_(\d{5})\.((?i:mp4|txt))$")


def data_root(root: Path) -> Path:
    """Accept either the folder holding ``lipread_mp4/`` or ``lipread_mp4/`` itself."""
    return root / "lipread_mp4" if (root / "lipread_mp4").is_dir() else root


def index(root: Path, params: DatasetsParams) -> tuple[list[ClipRow], list[Problem]]:
    base = data_root(root)
    prefix = "" if base == root else "lipread_mp4/"
    rows: list[ClipRow] = []
    problems: list[Problem] = []
    files = walk_files(base)
    present = by_extension(files)
    for rel in files:
        m = _CLIP.match(rel)
        if not m:
            problems.append(Problem(NAME, prefix + rel, "unexpected file (expected WORD/{train,val,test}/WORD_NNNNN.mp4|.txt)"))
            continue
        word, split, _, ext = m.groups()
        ext = ext.lower()
        stem = rel[:-4]
        if ext == "txt":
            if stem + ".mp4" not in present:
                problems.append(Problem(NAME, prefix + rel, "transcript without video"))
            continue
        if stem + ".txt" not in present:
            problems.append(Problem(NAME, prefix + rel, "missing transcript (.txt)"))
            continue
        try:
            tr = parse_transcript(base / present[stem + ".txt"])
        except TranscriptError as exc:
            problems.append(Problem(NAME, prefix + stem + ".txt", str(exc)))
            continue
        if tr.text != word:
            problems.append(Problem(NAME, prefix + stem + ".txt", f"transcript {tr.text!r} does not match folder word {word!r}"))
            continue
        rows.append(
            ClipRow(
                dataset=NAME, clip_id=stem, split=SPLITS[split], kind="word", subset=split, text=word, word=word,
                video=prefix + rel, audio=prefix + rel, n_frames=N_FRAMES,
            )
        )
    return rows, problems
