"""The embedded synthetic corpus: determinism, splits, formats, synchrony, labels, emotion prosody."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")
cv2 = pytest.importorskip("cv2")
sf = pytest.importorskip("soundfile")

from avssl.config import params_from_dict  # noqa: E402
from avssl.data.synth import run_synth  # noqa: E402
from tests.conftest import modules_imported_by  # noqa: E402

SMALL = {"n_speakers": 3, "n_val_speakers": 1, "n_test_speakers": 1, "words_per_speaker": 4,
         "sentences_per_speaker": 1, "montage_clips": 4}  # fmt: skip


def _params(seed=0, **over):
    return params_from_dict({"study": {"seed": seed}, "synth": {**SMALL, **over}})


def _digests(d: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(d.iterdir()) if f.is_file()}


def _rows(d: Path) -> list[dict]:
    with open(d / "metadata.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth1")
    metrics = run_synth(_params(), out, threads=1)
    assert metrics["n_clips"] == 15 and metrics["n_speakers"] == 3
    return out


def test_import_is_light():
    assert modules_imported_by("import avssl.data.synth", ("cv2", "numpy", "scipy", "torch")) == []


def test_deterministic_across_runs_and_threads(corpus, tmp_path):
    metrics = run_synth(_params(), tmp_path, threads=2)
    assert metrics["n_generated"] == 15
    assert _digests(tmp_path) == _digests(corpus)


def test_resume_skips_finished_clips(corpus, tmp_path):
    import shutil

    shutil.copytree(corpus, tmp_path, dirs_exist_ok=True)
    (tmp_path / "s00_w0001.npz").unlink()  # as if the run crashed on this clip
    (tmp_path / "metadata.csv").unlink()
    metrics = run_synth(_params(), tmp_path, threads=1)
    assert metrics["n_generated"] == 1
    assert _digests(tmp_path) == _digests(corpus)


def test_other_seed_differs(corpus, tmp_path):
    run_synth(_params(seed=1, words_per_speaker=1, sentences_per_speaker=0), tmp_path)
    for name in ("s00_w0000.wav", "s00_w0000.mp4", "s00_w0000.npz"):
        assert (tmp_path / name).read_bytes() != (corpus / name).read_bytes()


def test_metadata_and_splits(corpus):
    rows = _rows(corpus)
    need = {"clip_id", "speaker", "split", "kind", "text", "word", "emotion", "n_frames", "n_samples", "voice"}
    assert need <= set(rows[0])
    assert [r["clip_id"] for r in rows] == sorted(r["clip_id"] for r in rows)
    by_split: dict[str, set] = {}
    for r in rows:
        by_split.setdefault(r["split"], set()).add(r["speaker"])
        assert r["text"] and r["emotion"] in {"anger", "disgust", "fear", "happy", "neutral", "sad"}
        if r["kind"] == "word":
            assert r["word"] == r["text"] and int(r["n_frames"]) == 29
        else:
            assert 50 <= int(r["n_frames"]) <= 125 and len(r["text"].split()) >= 2
    assert set(by_split) == {"train", "val", "test"}
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
    assert not (by_split["val"] & by_split["test"])
    speakers = list(csv.DictReader(open(corpus / "speakers.csv")))
    assert len(speakers) == 3 and len({s["voice"] for s in speakers}) == 3
    for name in ("README.md", "montage.png"):
        assert (corpus / name).stat().st_size > 0


def test_wav_and_video_format(corpus):
    for r in _rows(corpus):
        audio, sr = sf.read(corpus / f"{r['clip_id']}.wav", dtype="int16")
        info = sf.info(corpus / f"{r['clip_id']}.wav")
        assert sr == 16000 and audio.ndim == 1 and info.subtype == "PCM_16"
        assert len(audio) == int(r["n_frames"]) * 640 == int(r["n_samples"])
        cap = cv2.VideoCapture(str(corpus / f"{r['clip_id']}.mp4"))
        n = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            assert frame.shape == (224, 224, 3)
            n += 1
        assert n == int(r["n_frames"])
        assert abs(cap.get(cv2.CAP_PROP_FPS) - 25) < 1e-3


def test_labels_shapes_and_geometry(corpus):
    for r in _rows(corpus):
        t = int(r["n_frames"])
        with np.load(corpus / f"{r['clip_id']}.npz") as z:
            assert z["arousal"].shape == z["valence"].shape == (t,)
            assert z["arousal"].dtype == np.float32
            assert np.all(np.abs(z["arousal"]) <= 1) and np.all(np.abs(z["valence"]) <= 1)
            assert np.abs(np.diff(z["arousal"])).max() < 0.2  # smooth
            box, mouth = z["face_box"], z["mouth_center"]
            assert box.shape == (t, 4) and mouth.shape == (t, 2) and z["viseme"].shape[0] == t
            x, y, w, h = box.T
            assert np.all((mouth[:, 0] > x) & (mouth[:, 0] < x + w) & (mouth[:, 1] > y) & (mouth[:, 1] < y + h))
            assert np.all((mouth >= 0) & (mouth < 224))
            assert np.ptp(box[:, 0]) > 0.5 or np.ptp(box[:, 1]) > 0.5  # the head moves


def _frame_rms(audio: np.ndarray, t: int) -> np.ndarray:
    return np.sqrt((audio[: t * 640].reshape(t, 640).astype(np.float64) ** 2).mean(1))


def test_mouth_follows_audio(corpus):
    """Ground-truth openness and the rendered mouth (darkness at the mouth centre) track audio energy."""
    opens, energies, dark = [], [], []
    for r in _rows(corpus):
        t = int(r["n_frames"])
        audio, _ = sf.read(corpus / f"{r['clip_id']}.wav", dtype="int16")
        with np.load(corpus / f"{r['clip_id']}.npz") as z:
            opens.append(z["viseme"][:, 0])
            mouth = z["mouth_center"]
        energies.append(np.log(_frame_rms(audio, t) + 1))
        cap = cv2.VideoCapture(str(corpus / f"{r['clip_id']}.mp4"))
        for i in range(t):
            _, frame = cap.read()
            mx, my = (int(round(v)) for v in mouth[i])
            patch = cv2.cvtColor(frame[my - 4 : my + 5, mx - 6 : mx + 7], cv2.COLOR_BGR2GRAY)
            dark.append(-float(patch.mean()))
    o, e = np.concatenate(opens), np.concatenate(energies)
    assert np.corrcoef(o, e)[0, 1] > 0.5
    assert np.corrcoef(np.array(dark), o)[0, 1] > 0.3


def _f0(x: np.ndarray, sr: int = 16000) -> float:
    out = []
    for s in range(0, len(x) - 1024, 512):
        seg = x[s : s + 1024].astype(np.float64)
        if np.sqrt((seg**2).mean()) < 0.02:
            continue
        seg -= seg.mean()
        c = np.correlate(seg, seg, "full")[1023:]
        lo, hi = sr // 400, sr // 70
        k = lo + int(np.argmax(c[lo:hi]))
        if c[k] > 0.3 * c[0]:
            out.append(sr / k)
    return float(np.median(out)) if out else 0.0


def test_emotion_prosody_differs():
    """Same speaker and word, anger vs sad: anger is louder, higher and faster."""
    from avssl.data.synth.clip import make_clip
    from avssl.data.synth.plan import ClipSpec
    from avssl.data.synth.speakers import make_speakers

    import tempfile

    sp = _params().synth
    spk = make_speakers(3, 1, 1, 0)[0]
    stats = {}
    with tempfile.TemporaryDirectory() as d:
        for emo in ("anger", "sad"):
            rms, f0, dur = [], [], []
            for k in range(4):
                spec = ClipSpec(f"s00_w{k:04d}", spk, "word", ["water", "yellow", "moon", "happy"][k], emo, 100 + k)
                row = make_clip(spec, sp, Path(d))
                x, _ = sf.read(Path(d) / f"{spec.clip_id}.wav", dtype="float32")
                speech = x[int(row["speech_start_s"] * 16000) : int(row["speech_end_s"] * 16000)]
                rms.append(np.sqrt((speech**2).mean()))
                f0.append(_f0(speech))
                dur.append(len(speech))
            stats[emo] = (np.mean(rms), np.mean(f0), np.mean(dur))
    assert stats["anger"][0] > 1.5 * stats["sad"][0]
    assert stats["anger"][1] > 1.1 * stats["sad"][1]
    assert stats["anger"][2] < stats["sad"][2]


def test_params_validation():
    from avssl.config import ParamsError

    with pytest.raises(ParamsError):
        params_from_dict({"synth": {"n_speakers": 3, "n_val_speakers": 1, "n_test_speakers": 2}})
    with pytest.raises(ParamsError):
        params_from_dict({"synth": {"vocabulary_size": 10}})
