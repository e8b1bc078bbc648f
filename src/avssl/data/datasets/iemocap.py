"""IEMOCAP adapter (licensed; USC SAIL), 4-class emotion + clip-level valence/arousal/dominance.

Layout: ``Session{1..5}/dialog/EmoEvaluation/<dialog>.txt`` with one summary line per turn::

    [6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]

(times in seconds within the dialog; V, A, D on a 1-5 scale), per-turn audio
``Session*/sentences/wav/<dialog>/<turn>.wav`` and the dialog video ``Session*/dialog/avi/DivX/<dialog>.avi``
(both actors side by side). A row's ``video`` is the dialog avi with start/end = the turn's times, its
``audio`` the turn wav (whole file: ``audio_start`` 0 and ``audio_end`` empty, because the dialog times do
not apply to it). Speaker = session + the turn's gender letter (``Ses01F``).

Labels: the usual 4-class protocol neutral, happy (hap + exc merged), angry, sad; turns labelled
otherwise (fru, sur, fea, dis, oth, xxx) are reported as excluded. Folds: leave-one-session-out,
fold = session - 1, with the common test/val/train rule of :func:`split_for_fold` over 5 folds.
"""

from __future__ import annotations

import re
from pathlib import Path

from avssl.config.datasets import DatasetsParams
from avssl.data.datasets.acquisition import Check, count_files
from avssl.data.datasets.folds import split_for_fold
from avssl.data.datasets.schema import ClipRow, Problem
from avssl.data.datasets.walk import by_extension, find_file, lower_ext, walk_files

NAME = "iemocap"
CHECKS = tuple(
    Check(f"session{s}", f"Session{s}/sentences/wav/<dialog>/<turn>.wav", lambda r, s=s: count_files(r / f"Session{s}" / "sentences" / "wav", ".wav"), n)
    for s, n in ((1, 1819), (2, 1811), (3, 2136), (4, 2103), (5, 2170))
)
INSTRUCTIONS = ("IEMOCAP is licensed by USC SAIL (https://sail.usc.edu/iemocap/, release form). Unpack "
                "IEMOCAP_full_release so that ROOT holds Session1..Session5/ (dialog/EmoEvaluation, dialog/avi/DivX, sentences/wav).")
SESSIONS = 5
EMOTION_MAP = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
_LINE = re.compile(
    r"^\[(?P<start>[\d.]+) - (?P<end>[\d.]+)\]\t(?P<turn>\S+)\t(?P<emo>\S+)\t\[(?P<v>[\d.]+), (?P<a>[\d.]+), (?P<d>[\d.]+)\]$"
)
_TURN = re.compile(r"^(Ses0[1-5])[MF]_.+_([MF])\d+$")


def index(root: Path, params: DatasetsParams) -> tuple[list[ClipRow], list[Problem]]:
    if params.fold >= SESSIONS:
        raise ValueError(f"IEMOCAP has {SESSIONS} sessions: fold must be 0..4, got {params.fold}")
    rows: list[ClipRow] = []
    problems: list[Problem] = []
    for session in range(1, SESSIONS + 1):
        sdir = f"Session{session}"
        if not (root / sdir).is_dir():
            problems.append(Problem(NAME, sdir, "session folder missing"))
            continue
        wav_dir = root / sdir / "sentences/wav"
        wavs = by_extension(walk_files(root, f"{sdir}/sentences/wav")) if wav_dir.is_dir() else {}
        evaluated: set[str] = set()
        eval_dir = root / sdir / "dialog" / "EmoEvaluation"
        eval_files = sorted(p for p in eval_dir.iterdir() if p.suffix.lower() == ".txt") if eval_dir.is_dir() else []
        if not eval_files:
            problems.append(Problem(NAME, f"{sdir}/dialog/EmoEvaluation", "no evaluation files"))
        for ev in eval_files:
            if ev.name.startswith("."):
                continue
            ev_rel = ev.relative_to(root).as_posix()
            for n, line in enumerate(ev.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if not line.startswith("["):
                    continue  # per-evaluator detail lines (C-E1:, A-E2: ...) and headers
                row = _turn_row(root, line.rstrip("\r\n"), session, params, wavs, f"{ev_rel}:{n}", problems)
                if row is not None:
                    evaluated.add(lower_ext(row.audio or ""))
                    rows.append(row)
                elif (m := _LINE.match(line.strip("\r\n"))):
                    evaluated.add(_wav_rel(session, m["turn"]))
        for key in sorted(set(wavs) - evaluated):
            if key.endswith(".wav"):
                problems.append(Problem(NAME, wavs[key], "turn wav without an evaluation line"))
    return rows, problems


def _wav_rel(session: int, turn: str) -> str:
    return f"Session{session}/sentences/wav/{turn.rsplit('_', 1)[0]}/{turn}.wav"


def _turn_row(root, line, session, params, wavs, where, problems) -> ClipRow | None:
    m = _LINE.match(line)
    if not m:
        problems.append(Problem(NAME, where, f"malformed evaluation line: {line[:80]!r}"))
        return None
    turn, emo = m["turn"], m["emo"]
    t = _TURN.match(turn)
    if not t or int(t.group(1)[-1]) != session:
        problems.append(Problem(NAME, where, f"turn name {turn!r} malformed or from another session"))
        return None
    if emo not in EMOTION_MAP:
        problems.append(Problem(NAME, _wav_rel(session, turn), f"emotion {emo!r} excluded: not in the 4-class set (neu, hap+exc, ang, sad)"))
        return None
    wav = _wav_rel(session, turn)
    if wav not in wavs:
        problems.append(Problem(NAME, wav, "turn wav missing"))
        return None
    wav = wavs[wav]  # as on disk (the extension may be upper-case)
    dialog = turn.rsplit("_", 1)[0]
    avi = f"Session{session}/dialog/avi/DivX/{dialog}.avi"
    found = find_file(root, avi)
    if found is None:
        problems.append(Problem(NAME, avi, f"dialog video missing; turn {turn} kept audio-only"))
    avi = found or ""
    fold = session - 1
    return ClipRow(
        dataset=NAME, clip_id=turn, split=split_for_fold(fold, params.fold, SESSIONS), fold=fold,
        speaker=f"{t.group(1)}{t.group(2)}", kind="sentence", subset=f"Session{session}",
        emotion=EMOTION_MAP[emo], valence=float(m["v"]), arousal=float(m["a"]), dominance=float(m["d"]),
        video=avi, audio=wav, start=float(m["start"]) if avi else "", end=float(m["end"]) if avi else "",
        audio_start=0.0 if avi else "",
    )
