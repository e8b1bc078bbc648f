"""RAVDESS adapter (public, CC BY-NC-SA 4.0; Zenodo record 1188976).

Layout: ``[wrapper/]Actor_NN/MM-CC-EE-II-SS-RR-AA.ext`` with 7 numeric fields: modality (01 full AV mp4,
02 video-only mp4, 03 audio-only wav), vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm,
03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised), intensity (01 normal, 02 strong;
neutral has no strong), statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"),
repetition (01, 02), actor (01-24; odd = male, even = female). 60 speech trials per actor.

One row per speech trial: video = the AV file (01) or else the video-only file (02); audio = the
audio-only wav (03, from Audio_Speech_Actors_01-24.zip) when present, else the AV mp4's track. Song files
are reported as excluded (speech only). Folds are speaker-independent and gender-balanced (actors dealt
round-robin, males first, then females).
"""

from __future__ import annotations

import re
from pathlib import Path

from avssl.config.datasets import DatasetsParams
from avssl.data.datasets.acquisition import Archive, PublicDataset
from avssl.data.datasets.folds import assign_folds, split_for_fold
from avssl.data.datasets.schema import ClipRow, Problem
from avssl.data.datasets.walk import walk_files

NAME = "ravdess"
_ZENODO = "https://zenodo.org/records/1188976/files/{}?download=1"
SOURCE = PublicDataset(
    name=NAME,
    licence="CC BY-NC-SA 4.0",
    homepage="https://zenodo.org/records/1188976",
    archives=tuple(Archive(_ZENODO.format(f"Video_Speech_Actor_{a:02d}.zip"), f"Video_Speech_Actor_{a:02d}.zip") for a in range(1, 25))
    + (Archive(_ZENODO.format("Audio_Speech_Actors_01-24.zip"), "Audio_Speech_Actors_01-24.zip"),),
    notes="Zenodo publishes md5s on the record page; not recorded here, so the lock file pins them on first download.",
)
EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fearful", 7: "disgust", 8: "surprised"}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
MODALITY_EXT = {1: ".mp4", 2: ".mp4", 3: ".wav"}
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_ACTOR_DIR = re.compile(r"^Actor_(\d\d)$")


def parse_name(stem: str) -> tuple[int, int, int, int, int, int, int]:
    """The 7 fields as ints; ValueError with the reason if malformed or out of range."""
    m = _NAME.match(stem)
    if not m:
        raise ValueError("name is not 7 two-digit fields MM-CC-EE-II-SS-RR-AA")
    mod, ch, emo, inten, stmt, rep, actor = (int(g) for g in m.groups())
    checks = [
        (mod in MODALITY_EXT, f"modality {mod:02d}"), (ch in (1, 2), f"vocal channel {ch:02d}"),
        (emo in EMOTIONS, f"emotion {emo:02d}"), (inten in INTENSITIES, f"intensity {inten:02d}"),
        (stmt in STATEMENTS, f"statement {stmt:02d}"), (rep in (1, 2), f"repetition {rep:02d}"),
        (1 <= actor <= 24, f"actor {actor:02d}"), (not (emo == 1 and inten == 2), "neutral with strong intensity"),
    ]
    for ok, what in checks:
        if not ok:
            raise ValueError(f"invalid field: {what}")
    return mod, ch, emo, inten, stmt, rep, actor


def gender(actor: str) -> str:
    return "male" if int(actor) % 2 else "female"


def index(root: Path, params: DatasetsParams) -> tuple[list[ClipRow], list[Problem]]:
    problems: list[Problem] = []
    trials: dict[str, dict[int, str]] = {}
    for rel in walk_files(root):
        p = Path(rel)
        folder = _ACTOR_DIR.match(p.parent.name) if len(p.parts) >= 2 else None
        if not folder:
            problems.append(Problem(NAME, rel, "not inside an Actor_NN folder"))
            continue
        try:
            mod, ch, emo, inten, stmt, rep, actor = parse_name(p.stem)
        except ValueError as exc:
            problems.append(Problem(NAME, rel, str(exc)))
            continue
        if actor != int(folder.group(1)):
            problems.append(Problem(NAME, rel, f"actor field {actor:02d} does not match folder {p.parent.name}"))
        elif p.suffix.lower() != MODALITY_EXT[mod]:
            problems.append(Problem(NAME, rel, f"modality {mod:02d} expects {MODALITY_EXT[mod]}"))
        elif ch != 1:
            problems.append(Problem(NAME, rel, "song (vocal channel 02) excluded: speech only"))
        else:
            trials.setdefault(p.stem[3:], {})[mod] = rel
    folds = assign_folds((k[-2:] for k in trials), params.n_folds, group=lambda a: "0" if int(a) % 2 else "1")
    rows = []
    for key, files in trials.items():
        _, _, emo, inten, stmt, _, actor_n = parse_name("01-" + key)
        actor = f"{actor_n:02d}"
        video = files.get(1) or files.get(2, "")
        audio = files.get(3) or files.get(1, "")
        if not video:
            problems.append(Problem(NAME, key, "audio-only trial: no video file (01/02); row kept without video"))
        if not audio:
            problems.append(Problem(NAME, key, "video-only trial: no AV mp4 (01) or wav (03); row kept without audio"))
        rows.append(
            ClipRow(
                dataset=NAME, clip_id=f"Actor_{actor}/{key}", split=split_for_fold(folds[actor], params.fold, params.n_folds),
                fold=folds[actor], speaker=actor, kind="sentence", text=STATEMENTS[stmt],
                emotion=EMOTIONS[emo], intensity=INTENSITIES[inten], video=video, audio=audio,
            )
        )
    return rows, problems
