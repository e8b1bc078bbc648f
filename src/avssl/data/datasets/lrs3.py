"""LRS3-TED adapter (licensed; BBC/Oxford VGG).

Layout: ``{pretrain,trainval,test}/<speaker>/<utt>.mp4`` + ``<utt>.txt`` (``Text:`` line, then a
``WORD START END ASDSCORE`` table). ``<speaker>`` is the TED video's YouTube id, a speaker proxy.
Released sizes: pretrain 118,516 utterances, trainval 31,982 (30 h), test 1,321 (0.84 h).

Settings (``datasets.lrs3_setting``): ``low`` = trainval as training set (30 h); ``high`` = pretrain +
trainval (433 h); the pretrain folder is only scanned for ``high``. Test is always ``test``. Pretrain
utterances whose word timings extend past ``max_segment_s`` become several ``segment`` rows with
start/end; everything else is one ``sentence`` row for the whole file. Audio is the mp4's own track unless
a ``.wav`` with the same stem sits next to it (the pre-processed layout).
"""

from __future__ import annotations

from pathlib import Path

from avssl.config.datasets import DatasetsParams
from avssl.data.datasets.acquisition import Check, count_files
from avssl.data.datasets.schema import ClipRow, Problem
from avssl.data.datasets.segments import split_words
from avssl.data.datasets.transcript import TranscriptError, parse_transcript
from avssl.data.datasets.walk import by_extension, walk_files

NAME = "lrs3"
CHECKS = (
    Check("pretrain", "pretrain/<speaker>/<utt>.mp4", lambda r: count_files(r / "pretrain", ".mp4"), 118516),
    Check("trainval", "trainval/<speaker>/<utt>.mp4", lambda r: count_files(r / "trainval", ".mp4"), 31982),
    Check("test", "test/<speaker>/<utt>.mp4", lambda r: count_files(r / "test", ".mp4"), 1321),
)
INSTRUCTIONS = ("LRS3-TED is licensed by the Oxford VGG group (https://mmai.io/datasets/lip_reading/). Sign the "
                "data-sharing agreement, download lrs3_pretrain/trainval/test zips, and unzip them so that ROOT holds "
                "pretrain/, trainval/ and test/ (each <speaker>/<utt>.mp4 + .txt).")
TEST_UTTERANCES = 1321
SUBSET_SPLIT = {"pretrain": "train", "trainval": "train", "test": "test"}


def subsets_for(setting: str) -> tuple[str, ...]:
    return ("pretrain", "trainval", "test") if setting == "high" else ("trainval", "test")


def index(root: Path, params: DatasetsParams) -> tuple[list[ClipRow], list[Problem]]:
    rows: list[ClipRow] = []
    problems: list[Problem] = []
    for subset in subsets_for(params.lrs3_setting):
        if not (root / subset).is_dir():
            problems.append(Problem(NAME, subset, f"subset folder missing (needed by setting {params.lrs3_setting!r})"))
            continue
        files = walk_files(root, subset)
        present = by_extension(files)
        for rel in files:
            parts = rel.split("/")
            suffix = Path(rel).suffix.lower()
            if suffix == ".txt" and len(parts) == 3:
                if rel[:-4] + ".mp4" not in present:
                    problems.append(Problem(NAME, rel, "transcript without video"))
                continue
            if suffix == ".wav" and len(parts) == 3 and rel[:-4] + ".mp4" in present:
                continue
            if suffix != ".mp4" or len(parts) != 3:
                problems.append(Problem(NAME, rel, "unexpected file (expected <subset>/<speaker>/<utt>.mp4|.txt)"))
                continue
            rows_or_problem = _clip_rows(root, rel, subset, params, present)
            if isinstance(rows_or_problem, Problem):
                problems.append(rows_or_problem)
            else:
                rows.extend(rows_or_problem)
    return rows, problems


def _clip_rows(root: Path, rel: str, subset: str, params: DatasetsParams, present: dict[str, str]
               ) -> list[ClipRow] | Problem:
    stem = rel[:-4]
    if stem + ".txt" not in present:
        return Problem(NAME, rel, "missing transcript (.txt)")
    try:
        tr = parse_transcript(root / present[stem + ".txt"])
    except TranscriptError as exc:
        return Problem(NAME, present[stem + ".txt"], str(exc))
    speaker = rel.split("/")[1]
    audio = present.get(stem + ".wav", rel)
    base = dict(dataset=NAME, split=SUBSET_SPLIT[subset], speaker=speaker, subset=subset, video=rel, audio=audio)
    if subset != "pretrain" or not tr.words or tr.words[-1].end <= params.max_segment_s:
        return [ClipRow(clip_id=stem, kind="sentence", text=tr.text, **base)]
    try:
        segments = split_words(tr.words, params.max_segment_s)
    except ValueError as exc:
        return Problem(NAME, stem + ".txt", f"cannot segment: {exc}")
    return [
        ClipRow(clip_id=f"{stem}_{i:02d}", kind="segment", text=seg.text, start=seg.start, end=seg.end, **base)
        for i, seg in enumerate(segments)
    ]
