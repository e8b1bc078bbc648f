"""CREMA-D adapter (public, ODbL; github.com/CheyneyComputerScience/CREMA-D).

Layout: ``AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav`` and ``VideoFlash/<same>.flv``; 7,442 clips
of 91 actors (1001-1091) saying 12 sentences with 6 emotions. Other repository folders (ratings,
processedResults) are not media and are not scanned. Folds are speaker-independent: actors are dealt
round-robin into ``datasets.n_folds`` folds in id order (see :mod:`avssl.data.datasets.folds`).
A clip with only one of its two media files is kept (the missing column empty) and also reported.
"""

from __future__ import annotations

import re
from pathlib import Path

from avssl.config.datasets import DatasetsParams
from avssl.data.datasets.acquisition import Archive, PublicDataset
from avssl.data.datasets.folds import assign_folds, split_for_fold
from avssl.data.datasets.schema import ClipRow, Problem
from avssl.data.datasets.walk import walk_files

NAME = "crema_d"
_CREMA_MEDIA = "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/"


def crema_d_files(manifest_text: str, media_base: str = _CREMA_MEDIA) -> list[Archive]:
    """Per-clip downloads listed by CREMA-D's summaryTable.csv (column ``FileName``)."""
    import csv
    import io

    names = sorted({row["FileName"].strip() for row in csv.DictReader(io.StringIO(manifest_text)) if row.get("FileName")})
    files = []
    for name in names:
        for folder, ext in (("AudioWAV", ".wav"), ("VideoFlash", ".flv")):
            files.append(Archive(f"{media_base}{folder}/{name}{ext}", f"{name}{ext}", extract=False, dest=f"{folder}/{name}{ext}"))
    return files


SOURCE = PublicDataset(
    name=NAME,
    licence="Open Database License (ODbL)",
    homepage="https://github.com/CheyneyComputerScience/CREMA-D",
    manifest=Archive(
        "https://raw.githubusercontent.com/CheyneyComputerScience/CREMA-D/master/processedResults/summaryTable.csv",
        "summaryTable.csv", extract=False, dest="processedResults/summaryTable.csv",
    ),
    notes="Media live in Git LFS, one file per clip (no archive): the manifest lists the clip names "
    "(column FileName), each fetched as AudioWAV/<name>.wav and VideoFlash/<name>.flv. Do not git clone.",
    extra={"media_base": _CREMA_MEDIA},
    files_from_manifest=crema_d_files,
)
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
ACTORS = range(1001, 1092)
MEDIA = {"AudioWAV": ".wav", "VideoFlash": ".flv"}
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def parse_name(stem: str) -> tuple[str, str, str, str]:
    """(actor, sentence code, emotion name, level name); ValueError with the reason if malformed."""
    m = _NAME.match(stem)
    if not m:
        raise ValueError("name is not <actor>_<sentence>_<emotion>_<level>")
    actor, sentence, emotion, level = m.groups()
    if int(actor) not in ACTORS:
        raise ValueError(f"actor {actor} outside 1001-1091")
    if sentence not in SENTENCES:
        raise ValueError(f"unknown sentence code {sentence}")
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion code {emotion}")
    if level not in LEVELS:
        raise ValueError(f"unknown level code {level}")
    return actor, sentence, EMOTIONS[emotion], LEVELS[level]


def index(root: Path, params: DatasetsParams) -> tuple[list[ClipRow], list[Problem]]:
    problems: list[Problem] = []
    media: dict[str, dict[str, str]] = {}
    for folder, ext in MEDIA.items():
        if not (root / folder).is_dir():
            problems.append(Problem(NAME, folder, "media folder missing"))
            continue
        for rel in walk_files(root, folder):
            p = Path(rel)
            if p.suffix.lower() != ext or len(p.parts) != 2:
                problems.append(Problem(NAME, rel, f"unexpected file in {folder}/ (expected *{ext})"))
                continue
            try:
                parse_name(p.stem)
            except ValueError as exc:
                problems.append(Problem(NAME, rel, str(exc)))
                continue
            media.setdefault(p.stem, {})[ext] = rel
    folds = assign_folds((s.split("_")[0] for s in media), params.n_folds)
    rows = []
    for stem, files in media.items():
        actor, sentence, emotion, level = parse_name(stem)
        for ext, what in ((".wav", "audio"), (".flv", "video")):
            if ext not in files:
                problems.append(Problem(NAME, stem, f"missing {what} ({ext}); row kept without it"))
        rows.append(
            ClipRow(
                dataset=NAME, clip_id=stem, split=split_for_fold(folds[actor], params.fold, params.n_folds),
                fold=folds[actor], speaker=actor, kind="sentence", subset=sentence, text=SENTENCES[sentence],
                emotion=emotion, intensity=level, video=files.get(".flv", ""), audio=files.get(".wav", ""),
            )
        )
    return rows, problems
