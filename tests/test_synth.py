"""The embedded corpus: deterministic, speaker-independent, in sync, labelled, readable."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avssl.config import Params
from avssl.data.synth import run_synth

SMALL = {"n_speakers": 4, "n_val_speakers": 1, "n_test_speakers": 1, "words_per_speaker": 6,
         "sentences_per_speaker": 2, "vocabulary_size": 30}  # fmt: skip


def params(seed: int = 0, **synth) -> Params:
    return Params.model_validate({"study": {"seed": seed}, "synth": {**SMALL, **synth}})


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    run_synth(params(), out, threads=1)
    return out


def rows(corpus: Path) -> list[dict]:
    with open(corpus / "metadata.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_params_and_seed_give_byte_identical_files_whatever_the_thread_count(corpus, tmp_path):
    again = tmp_path / "b"
    run_synth(params(), again, threads=2)
    assert digest(corpus) == digest(again)


def test_a_different_seed_gives_different_data(corpus, tmp_path):
    other = tmp_path / "c"
    run_synth(params(seed=1), other, threads=2)
    a, b = digest(corpus), digest(other)
    media = [n for n in a if n.endswith((".wav", ".mp4")) and n in b]
    assert media and all(a[n] != b[n] for n in media)


def test_interrupted_run_resumes_without_redoing_finished_clips(corpus, tmp_path):
    partial = tmp_path / "d"
    run_synth(params(), partial, threads=1)
    victim = sorted(partial.glob("*.wav"))[0]
    victim.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in partial.glob("*.mp4")}
    run_synth(params(), partial, threads=1)
    assert digest(partial) == digest(corpus)
    after = {p.name: p.stat().st_mtime_ns for p in partial.glob("*.mp4")}
    assert sum(before[n] == after[n] for n in before) >= len(before) - 1


def test_splits_are_speaker_disjoint_and_metadata_complete(corpus):
    meta = rows(corpus)
    speakers = {split: {r["speaker"] for r in meta if r["split"] == split} for split in ("train", "val", "test")}
    assert all(speakers.values())
    assert not (speakers["train"] & speakers["val"] or speakers["train"] & speakers["test"]
                or speakers["val"] & speakers["test"])  # fmt: skip
    assert {r["kind"] for r in meta} == {"word", "sentence"}
    emotions = {r["emotion"] for r in meta}
    assert emotions <= {"anger", "disgust", "fear", "happy", "neutral", "sad"} and len(emotions) >= 4
    for r in meta:
        assert r["text"].strip(), r["clip_id"]
        if r["kind"] == "word":
            assert r["word"] == r["text"] and int(r["n_frames"]) == 29
        for ext in (".mp4", ".wav", ".npz"):
            assert (corpus / f"{r['clip_id']}{ext}").is_file()
    assert (corpus / "montage.png").is_file() and (corpus / "speakers.csv").is_file()


def test_audio_is_16k_mono_and_exactly_frames_x_640(corpus):
    for r in rows(corpus):
        audio, rate = sf.read(corpus / f"{r['clip_id']}.wav")
        assert rate == 16000 and audio.ndim == 1
        assert len(audio) == int(r["n_frames"]) * 640 == int(r["n_samples"])


def test_video_has_every_frame_and_ground_truth_is_consistent(corpus):
    import cv2

    for r in rows(corpus)[:6]:
        cap = cv2.VideoCapture(str(corpus / f"{r['clip_id']}.mp4"))
        n, shape = 0, None
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            n, shape = n + 1, frame.shape
        assert n == int(r["n_frames"]) and shape == (224, 224, 3)
        z = np.load(corpus / f"{r['clip_id']}.npz")
        x, y, w, h = z["face_box"].T
        mx, my = z["mouth_center"].T
        assert np.all((mx > x) & (mx < x + w) & (my > y + h / 2) & (my < y + h)), "mouth not in the lower face"
        assert np.all(np.abs(z["arousal"]) <= 1) and np.all(np.abs(z["valence"]) <= 1)
        assert np.ptp(x) > 0.5 or np.ptp(y) > 0.5, "the head never moves"


def test_mouth_opening_follows_the_speech(corpus):
    """Synchronisation: per-frame audio energy correlates with the viseme track's mouth opening."""
    corr = []
    for r in rows(corpus):
        if r["kind"] != "sentence":
            continue
        audio, _ = sf.read(corpus / f"{r['clip_id']}.wav")
        energy = np.sqrt((audio.reshape(-1, 640) ** 2).mean(1))
        opening = np.load(corpus / f"{r['clip_id']}.npz")["viseme"][:, 0]
        corr.append(np.corrcoef(energy, opening)[0, 1])
    assert np.mean(corr) > 0.3, corr


def test_emotions_differ_in_prosody(tmp_path):
    out = tmp_path / "e"
    run_synth(params(words_per_speaker=24, sentences_per_speaker=0), out, threads=2)
    level: dict[str, list[float]] = {}
    for r in rows(out):
        audio, _ = sf.read(out / f"{r['clip_id']}.wav")
        voiced = audio[np.abs(audio) > 0.01]
        level.setdefault(r["emotion"], []).append(float(np.sqrt((voiced**2).mean())) if len(voiced) else 0.0)
    assert np.mean(level["anger"]) > 1.3 * np.mean(level["sad"])
