"""A real dataset's clip index (``avssl index``) as input of the preprocess stage.

Why: the stages after ``preprocess`` only read the processed index and shards, so feeding a real corpus
through the same stage (instead of a folder of ``<id>.mp4`` + ``<id>.wav`` + metadata.csv) leaves the
rest of the DAG unchanged. Each row of the adapter index (columns: :mod:`avssl.data.datasets.schema`)
becomes one :class:`~avssl.preprocessing.discover.ClipSource`; media paths in it are relative to the
dataset root (``--root``, default ``datasets.<name>_root``).

Column mapping, adapter index -> processed ``index.csv`` (what the tasks read, see :mod:`avssl.tasks`):

==================  =================================  ======================================================
adapter column      processed column                   read by
==================  =================================  ======================================================
clip_id             clip_id (unchanged, may hold /)    everything
split               split (empty -> default_split)     pretrain (train/val), finetune/evaluate (train/val/test)
speaker             speaker (empty -> ``unknown``)     speaker-balanced label fractions, babble noise
emotion             emotion                            ``emotion``
word                word                               ``words_audio``, ``words_video``
text                text                               ``asr``, ``vsr``
arousal, valence    arousal, valence (corpus scale) +  ``affect`` reads the per-frame arrays: clip-level
                    per-frame annotation arrays        ratings of corpora in :data:`AFFECT_SCALES` (IEMOCAP,
                    in [-1, 1] (see right)             1-5) are rescaled to [-1, 1] and repeated per frame
annotations         per-frame arrays of the npz        ``affect`` (a corpus with per-frame traces)
dataset, kind,      same names, passed through         reports / people
subset, fold,
intensity,
dominance
video, audio,       source_video, source_audio,        provenance: where the clip was cut from
start, end          source_start, source_end
audio_start/end     (used for cutting only)
n_frames            (not kept: the decoded count is)
==================  =================================  ======================================================

A column that a corpus does not have is empty, and rows with an empty label are not part of that task
(:func:`avssl.tasks.task_rows`). What each corpus supports, therefore:

- ``lrs3``: ``asr``, ``vsr`` (text) and pre-training; ``voxceleb2``: pre-training only (unlabelled);
- ``lrw``: ``words_audio``, ``words_video`` (word) and pre-training (Shukla et al. pre-train on LRW);
- ``crema_d`` (6 classes), ``ravdess`` (8 classes): ``emotion``;
- ``iemocap``: ``emotion`` (4 classes) and ``affect`` (clip-level arousal/valence as constant traces);
  its dialog videos show both actors side by side and the Haar locator takes the largest face, which is
  not always the speaker of the turn (use ``preprocess.locator: landmarks`` with per-turn landmarks);
- ``speech_commands``: audio only, cannot be preprocessed audio-visually (:data:`AUDIO_ONLY`).

Media: ``video`` is decoded with OpenCV (PyAV for segments or files OpenCV cannot open); ``audio`` is
read with soundfile when it is a sound file (CREMA-D, IEMOCAP, RAVDESS wavs) and decoded from the
container with PyAV otherwise (LRS3, LRW, VoxCeleb2, RAVDESS mp4 tracks). ``start``/``end`` cut both
(LRS3 pretrain segments) unless ``audio_start``/``audio_end`` give the audio its own bounds (IEMOCAP: the
turn wav from 0 to its end, while the video is cut out of the dialog). Landmarks for
``preprocess.locator: landmarks``: ``<landmarks_dir>/<clip_id>.landmarks.npy`` when a landmarks folder is
given, else ``<video without suffix>.landmarks.npy`` next to a whole-file video.

Rows that cannot become a clip (no video, no audio, a file missing under the root, unparsable bounds)
are returned as reject rows with the reason, never dropped. Problems with the index itself (missing
columns, rows of another dataset, duplicate ids) stop the stage with a PreprocessError naming the file.
"""

from __future__ import annotations

import csv
from pathlib import Path

from avssl.preprocessing.discover import ClipSource
from avssl.preprocessing.errors import PreprocessError
from avssl.registry import datasets

REQUIRED_COLUMNS = ("clip_id", "split", "video", "audio")
PASS_THROUGH = ("dataset", "kind", "subset", "fold", "text", "word", "emotion", "intensity", "valence", "arousal",
                "dominance")  # fmt: skip
SOURCE_COLUMNS = {"video": "source_video", "audio": "source_audio", "start": "source_start", "end": "source_end"}
# corpora whose clip-level arousal/valence become per-frame affect targets: (scale min, scale max)
AFFECT_SCALES = {d.name: d.affect_scale for d in datasets.DATASETS if d.affect_scale}
AUDIO_ONLY = {d.name: datasets.audio_only_message(d.name) for d in datasets.DATASETS if d.audio_only}


def read_dataset_index(index_path: Path, dataset: str, root: Path,
                       landmarks_dir: Path | None = None) -> tuple[list[ClipSource], list[dict]]:
    """(clips sorted by id, reject rows) from the index CSV of ``dataset`` whose media lie under ``root``."""
    if dataset not in datasets.dataset_names():
        raise PreprocessError(f"unknown dataset {dataset!r}; known: {', '.join(datasets.dataset_names())}")
    if dataset in AUDIO_ONLY:
        raise PreprocessError(AUDIO_ONLY[dataset])
    index_path, root = Path(index_path), Path(root)
    if not index_path.is_file():
        raise PreprocessError(
            f"index {index_path} not found: write it with `avssl index --dataset {dataset} --output {index_path}`"
        )
    if not root.is_dir():
        raise PreprocessError(
            f"{dataset} root {root} is not a folder (set --root or datasets.{dataset}_root; the index's media "
            "paths are relative to it)"
        )
    if landmarks_dir is not None and not Path(landmarks_dir).is_dir():
        raise PreprocessError(f"landmarks folder {landmarks_dir} is not a folder")
    with open(index_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PreprocessError(
                f"{index_path}: not a clip index of `avssl index` (missing column(s) {', '.join(missing)}; "
                f"has {reader.fieldnames})"
            )
        rows = list(reader)
    clips: list[ClipSource] = []
    rejects: list[dict] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        cid = row.get("clip_id") or ""
        if not cid:
            raise PreprocessError(f"{index_path}:{line}: empty clip_id")
        if cid in seen:
            raise PreprocessError(f"{index_path}:{line}: duplicate clip_id {cid!r}")
        seen.add(cid)
        if row.get("dataset") and row["dataset"] != dataset:
            raise PreprocessError(
                f"{index_path}:{line}: row of dataset {row['dataset']!r}, but --dataset is {dataset!r} "
                "(is this the right index?)"
            )
        source = _clip_source(row, dataset, root, landmarks_dir)
        if isinstance(source, dict):
            rejects.append(source)
        else:
            clips.append(source)
    clips.sort(key=lambda c: c.clip_id)
    return clips, rejects


def _clip_source(row: dict, dataset: str, root: Path, landmarks_dir: Path | None) -> ClipSource | dict:
    """One index row -> ClipSource, or a reject row saying why not."""
    cid = row["clip_id"]
    video_rel, audio_rel = row.get("video") or "", row.get("audio") or ""
    if not video_rel:
        return _reject(cid, "missing_video", "index row has no video (audio-only clip); audio-visual "
                                             "preprocessing needs both")
    if not audio_rel:
        return _reject(cid, "missing_audio", "index row has no audio (video-only clip)")
    video, audio = root / video_rel, root / audio_rel
    for what, rel, path in (("video", video_rel, video), ("audio", audio_rel, audio)):
        if not path.is_file():
            return _reject(cid, f"missing_{what}", f"{rel} not found under {root}")
    try:
        video_span = _span(row, "start", "end")
        audio_span = _span(row, "audio_start", "audio_end") or video_span
    except ValueError as exc:
        return _reject(cid, "bad_index_row", str(exc))
    annotations = None
    if row.get("annotations"):
        annotations = root / row["annotations"]
        if not annotations.is_file():
            return _reject(cid, "missing_annotations", f"{row['annotations']} not found under {root}")
    landmarks = _landmarks(cid, video_rel, root, landmarks_dir, whole_file=video_span is None)
    meta = {"clip_id": cid, "split": row.get("split", ""), "speaker": row.get("speaker", "")}
    meta.update({k: row.get(k, "") for k in PASS_THROUGH})
    meta.update({new: row.get(old, "") for old, new in SOURCE_COLUMNS.items()})
    return ClipSource(
        cid, video, audio, annotations=annotations, landmarks=landmarks, meta=meta, video_span=video_span,
        audio_span=audio_span, constant_annotations=_affect(row, dataset),
    )


def _span(row: dict, start_key: str, end_key: str) -> tuple[float | None, float | None] | None:
    """(start, end) seconds from two columns (empty = open), None when both are empty."""
    raw = (row.get(start_key) or "").strip(), (row.get(end_key) or "").strip()
    if not any(raw):
        return None
    try:
        start, end = (float(v) if v else None for v in raw)
    except ValueError:
        raise ValueError(f"{start_key}/{end_key} {raw[0]!r}/{raw[1]!r} are not numbers") from None
    if (start is not None and start < 0) or (start is not None and end is not None and end <= start):
        raise ValueError(f"{start_key}/{end_key} {raw[0]}-{raw[1]} s is not a segment (need 0 <= start < end)")
    return start, end


def _landmarks(cid: str, video_rel: str, root: Path, landmarks_dir: Path | None, whole_file: bool) -> Path | None:
    if landmarks_dir is not None:
        p = Path(landmarks_dir) / f"{cid}.landmarks.npy"
        return p if p.is_file() else None
    if whole_file:  # a file next to a long video covers all of it, not one segment
        p = root / (str(Path(video_rel).with_suffix("")) + ".landmarks.npy")
        return p if p.is_file() else None
    return None


def _affect(row: dict, dataset: str) -> dict:
    """Clip-level arousal/valence on the corpus' scale -> {name: value in [-1, 1]} (AFFECT_SCALES only)."""
    if dataset not in AFFECT_SCALES:
        return {}
    lo, hi = AFFECT_SCALES[dataset]
    out = {}
    for key in ("arousal", "valence"):
        try:
            value = float(row.get(key) or "nan")
        except ValueError:
            return {}
        if value != value:
            return {}
        out[key] = min(1.0, max(-1.0, 2.0 * (value - lo) / (hi - lo) - 1.0))
    return out


def _reject(clip_id: str, reason: str, detail: str) -> dict:
    return {"clip_id": clip_id, "reason": reason, "detail": detail}
