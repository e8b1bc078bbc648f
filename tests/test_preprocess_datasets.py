"""`avssl preprocess --dataset`: real corpora's index -> processed shards, media decoded from containers.

The fixture trees have the real corpora's layouts (as in fixtures_datasets.py) but hold small media
written here with PyAV (h264/AAC mp4, FLV1 flv at 30 fps, mpeg4 avi, wav) showing skimage's astronaut,
so the Haar locator finds a face. Nothing is downloaded and no media file is committed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))

import fixtures_datasets as fx  # noqa: E402
from test_preprocess_media import face_frames  # noqa: E402

from avssl.config import Params  # noqa: E402
from avssl.data.datasets import index_to_files  # noqa: E402
from avssl.preprocessing import PreprocessError, run_preprocess  # noqa: E402
from avssl.preprocessing.errors import ClipRejected  # noqa: E402
from avssl.preprocessing.shards import read_csv  # noqa: E402
from tests.conftest import env_with_venv  # noqa: E402

import av  # noqa: E402  (in requirements.lock: PyAV writes the fixture media)


# ---- media writers -----------------------------------------------------------------------------------


def tone(seconds: float, rate: int, freqs=(300.0,), channels: int = 1, seed: int = 0) -> np.ndarray:
    """(n, channels) float32: the frequencies one after another in equal parts, plus a little noise."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    part = np.minimum((np.arange(n) * len(freqs)) // n, len(freqs) - 1)
    x = 0.2 * np.sin(2 * np.pi * np.asarray(freqs)[part] * t) + 0.005 * np.random.default_rng(seed).normal(size=n)
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def write_media(path: Path, frames: np.ndarray | None = None, fps: int = 25, audio: np.ndarray | None = None,
                rate: int = 16000, vcodec: str = "libx264", acodec: str = "aac") -> Path:
    """A container with a video stream (BGR frames) and/or an audio stream ((n, channels) float)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        vs = ast = None
        if frames is not None:
            vs = c.add_stream(vcodec, rate=fps)
            vs.height, vs.width = frames.shape[1:3]
            vs.pix_fmt = "yuv420p"
            if vcodec == "libx264":
                vs.options = {"preset": "ultrafast", "threads": "1"}
        if audio is not None:
            layout = "stereo" if audio.shape[1] == 2 else "mono"
            ast = c.add_stream(acodec, rate=rate)
            ast.layout = layout
        if vs is not None:
            for f in frames:
                c.mux(vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="bgr24")))
            c.mux(vs.encode())
        if ast is not None:
            for i in range(0, len(audio), 1024):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[i : i + 1024].T), format="fltp",
                                                layout=layout)
                fr.sample_rate, fr.pts = rate, i
                c.mux(ast.encode(fr))
            c.mux(ast.encode())
    return path


def write_wav(path: Path, audio: np.ndarray, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, rate, subtype="PCM_16")
    return path


def params(**preprocess) -> Params:
    p = Params()
    p.preprocess = p.preprocess.model_copy(update={"clips_per_shard": 2, "max_reject_rate": 0.5, **preprocess})
    p.datasets = p.datasets.model_copy(update={"n_folds": 2, "max_segment_s": 1.2})
    return p


# ---- fixture trees -----------------------------------------------------------------------------------

PRETRAIN_WORDS = [("SO", 0.0, 0.5), ("I", 0.6, 1.1), ("THINK", 1.3, 1.8), ("SO", 1.9, 2.4)]


def make_lrs3_media(root: Path) -> Path:
    """LRS3 layout: audio inside the mp4s; one mp4 without an audio stream; one pretrain utterance that the
    adapter cuts into two segments (300 Hz in its first half, 600 Hz in its second)."""
    short = [("SO", 0.1, 0.4), ("I", 0.5, 0.6)]
    frames, _ = face_frames(20, seed=1)
    write_media(root / "trainval/0af00UcTOSc/50001.mp4", frames, audio=tone(0.8, 44100, channels=2), rate=44100)
    write_media(root / "trainval/0af00UcTOSc/50002.mp4", frames)  # no audio stream
    write_media(root / "test/0Fi83BHQsMA/00002.mp4", face_frames(20, seed=2)[0], audio=tone(0.8, 16000))
    write_media(root / "pretrain/00j9bKdiOjk/00001.mp4", face_frames(62, seed=3)[0],
                audio=tone(2.48, 16000, freqs=(300.0, 600.0)))
    for rel, words in [("trainval/0af00UcTOSc/50001", short), ("trainval/0af00UcTOSc/50002", short),
                       ("test/0Fi83BHQsMA/00002", short), ("pretrain/00j9bKdiOjk/00001", PRETRAIN_WORDS)]:
        fx.touch(root, rel + ".txt", fx.lrs3_txt(words))
    return root


CREMA = {"1001_DFA_ANG_XX": "angry", "1002_DFA_NEU_XX": "neutral", "1003_IEO_HAP_HI": "happy",
         "1004_DFA_SAD_LO": "sad"}  # fmt: skip


def make_crema_d_media(root: Path) -> Path:
    """CREMA-D layout: FLV1 video at 30 fps in VideoFlash/, the audio as a separate wav in AudioWAV/."""
    for i, stem in enumerate(CREMA):
        write_media(root / f"VideoFlash/{stem}.flv", face_frames(24, seed=i)[0], fps=30, vcodec="flv")
        write_wav(root / f"AudioWAV/{stem}.wav", tone(0.8, 16000, seed=i))
    return root


def make_iemocap_media(root: Path) -> Path:
    """IEMOCAP layout (one session): a 30 fps dialog avi, per-turn wavs and the evaluation file."""
    dialog = "Ses01F_impro01"
    write_media(root / f"Session1/dialog/avi/DivX/{dialog}.avi", face_frames(66, seed=5)[0], fps=30,
                vcodec="mpeg4")
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", "",
             f"[0.2000 - 1.0000]\t{dialog}_F000\tneu\t[2.5000, 3.0000, 3.5000]", "C-E1:\tNeutral;\t()", "",
             f"[1.2000 - 2.0000]\t{dialog}_M000\tang\t[1.5000, 4.5000, 4.0000]", ""]
    fx.touch(root, f"Session1/dialog/EmoEvaluation/{dialog}.txt", "\n".join(lines) + "\n")
    for turn in ("F000", "M000"):
        write_wav(root / f"Session1/sentences/wav/{dialog}/{dialog}_{turn}.wav", tone(0.8, 16000))
    return root


def index_of(name: str, root: Path, tmp: Path, p: Params) -> Path:
    out = tmp / f"{name}.csv"
    index_to_files(name, root, out, p.datasets)
    return out


def dominant_hz(x: np.ndarray, rate: int = 16000) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spec.argmax()])


# ---- the stage ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lrs3_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lrs3")
    root = make_lrs3_media(tmp / "lrs3")
    p = params()
    index = index_of("lrs3", root, tmp, p)
    out = tmp / "processed"
    metrics = run_preprocess(p, index, out, dataset="lrs3", dataset_root=root)
    return out, metrics


def test_lrs3_audio_from_the_mp4_segments_and_rejects(lrs3_run):
    from avssl.data.processed import ProcessedDataset

    out, m = lrs3_run
    ds = ProcessedDataset(out)
    seg0, seg1 = "pretrain/00j9bKdiOjk/00001_00", "pretrain/00j9bKdiOjk/00001_01"
    assert sorted(ds.ids()) == [seg0, seg1, "test/0Fi83BHQsMA/00002", "trainval/0af00UcTOSc/50001"]
    rejects = {r["clip_id"]: r for r in read_csv(out / "rejects.csv")}
    assert set(rejects) == {"trainval/0af00UcTOSc/50002"}
    assert rejects["trainval/0af00UcTOSc/50002"]["reason"] == "no_audio_stream"
    assert "50002.mp4" in rejects["trainval/0af00UcTOSc/50002"]["detail"]
    assert m["n_clips"] == 4 and m["reject_no_audio_stream"] == 1

    for cid in ds.ids():
        item = ds[cid]
        n = item["meta"]["n_frames"]
        assert item["audio"].shape == (n * 640,) and item["audio"].dtype == np.float32
        assert item["video"].shape == (n, 96, 96) and item["video"].std() > 5
        assert item["meta"]["dataset"] == "lrs3" and item["meta"]["source_video"] == cid.rsplit("_0", 1)[0] + ".mp4"
    row = ds["trainval/0af00UcTOSc/50001"]["meta"]
    assert row["split"] == "train" and row["speaker"] == "0af00UcTOSc" and row["text"] == "SO I"
    assert row["n_frames"] == 20 and row["source_rate"] == "44100" and row["source_channels"] == "2"
    assert "audio resampled 44100->16000" in row["notes"] and "audio decoded from the container" in row["notes"]
    assert ds["test/0Fi83BHQsMA/00002"]["meta"]["split"] == "test"

    # the two segments are cut from the same file at the word boundaries: 0-1.1 s and 1.3-2.4 s
    a, b = ds[seg0], ds[seg1]
    assert a["meta"]["text"] == "SO I" and b["meta"]["text"] == "THINK SO"
    assert a["meta"]["n_frames"] == 28 and b["meta"]["n_frames"] == 28
    assert a["meta"]["source_start"] == "0" and b["meta"]["source_start"] == "1.3"
    assert abs(dominant_hz(a["audio"][:16000]) - 300) < 10 and abs(dominant_hz(b["audio"][-12800:]) - 600) < 10


def test_rerun_is_identical_and_resumes(lrs3_run, tmp_path):
    from test_preprocess_stage import digest

    out, _ = lrs3_run
    before = digest(out)
    root = out.parent / "lrs3"
    m = run_preprocess(params(), out.parent / "lrs3.csv", out, dataset="lrs3", dataset_root=root)
    assert m["n_shards_processed"] == 0 and digest(out) == before
    fresh = tmp_path / "again"
    run_preprocess(params(), out.parent / "lrs3.csv", fresh, dataset="lrs3", dataset_root=root)
    assert digest(fresh) == before  # deterministic decoding, cutting and resampling


def test_crema_d_through_the_cli(tmp_path):
    root = make_crema_d_media(tmp_path / "crema_d")
    index, out = tmp_path / "index" / "crema_d.csv", tmp_path / "processed"
    common = ["--params", "params.yaml", "--set", "datasets.n_folds=2"]
    run = [sys.executable, "-m", "avssl"]
    res = subprocess.run(run + ["index", *common, "--no-track", "--dataset", "crema_d", "--root", str(root), "--output", str(index)],
                         capture_output=True, text=True, env=env_with_venv(), cwd=Path(__file__).parents[1])
    assert res.returncode == 0, res.stderr
    res = subprocess.run(run + ["preprocess", *common, "--set", "preprocess.clips_per_shard=2", "--no-track",
                                "--threads", "1", "--dataset", "crema_d", "--input", str(index), "--root", str(root),
                                "--output", str(out)],
                         capture_output=True, text=True, env=env_with_venv(), cwd=Path(__file__).parents[1])
    assert res.returncode == 0, res.stderr
    from avssl.data.processed import ProcessedDataset

    ds = ProcessedDataset(out)
    assert sorted(ds.ids()) == sorted(CREMA) and read_csv(out / "rejects.csv") == []
    splits = set()
    for i, (stem, emotion) in enumerate(CREMA.items()):
        item = ds[stem]
        meta = item["meta"]
        assert meta["emotion"] == emotion and meta["speaker"] == stem[:4] and meta["dataset"] == "crema_d"
        assert meta["n_frames"] == 20 and meta["source_fps"] == "30.0"  # 24 frames at 30 fps -> 20 at 25
        assert item["audio"].shape == (20 * 640,)
        wav, _ = sf.read(str(root / f"AudioWAV/{stem}.wav"), dtype="float32")
        np.testing.assert_array_equal(item["audio"], wav)  # a 16 kHz wav passes through untouched
        splits.add(meta["split"])
    assert splits <= {"train", "val", "test"} and len(splits) == 2  # 2 folds: test + val


def test_iemocap_turns_cut_from_the_dialog_video(tmp_path):
    from avssl.data.processed import ProcessedDataset

    root = make_iemocap_media(tmp_path / "iemocap")
    p = params()
    index = index_of("iemocap", root, tmp_path, p)
    rows = {r["clip_id"]: r for r in read_csv(index)}
    assert rows["Ses01F_impro01_F000"]["audio_start"] == "0"  # the turn wav is not on the dialog timeline
    out = tmp_path / "processed"
    run_preprocess(p, index, out, dataset="iemocap", dataset_root=root)
    ds = ProcessedDataset(out)
    assert ds.ids() == ["Ses01F_impro01_F000", "Ses01F_impro01_M000"]
    f, m = ds["Ses01F_impro01_F000"], ds["Ses01F_impro01_M000"]
    assert f["meta"]["emotion"] == "neutral" and m["meta"]["emotion"] == "angry"
    assert f["meta"]["split"] == "test" and f["meta"]["speaker"] == "Ses01F"
    assert f["meta"]["n_frames"] == 20 and f["audio"].shape == (20 * 640,)  # 0.2-1.0 s at 30 fps -> 20 frames
    ann = ds.annotations("Ses01F_impro01_M000")  # 1-5 ratings -> constant per-frame traces in [-1, 1]
    np.testing.assert_allclose(ann["arousal"], np.full(20, 0.75, np.float32))
    np.testing.assert_allclose(ann["valence"], np.full(20, -0.75, np.float32))
    assert m["meta"]["arousal"] == "4.5"


def test_speech_commands_is_refused_with_an_explanation(tmp_path):
    root = fx.make_speech_commands(tmp_path / "sc")
    index = index_of("speech_commands", root, tmp_path, params())
    with pytest.raises(PreprocessError, match="audio-only.*words_audio"):
        run_preprocess(params(), index, tmp_path / "out", dataset="speech_commands", dataset_root=root)
    res = subprocess.run([sys.executable, "-m", "avssl", "preprocess", "--no-track", "--dataset", "speech_commands",
                          "--input", str(index), "--root", str(root), "--output", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env_with_venv(), cwd=Path(__file__).parents[1])
    assert res.returncode == 2 and "audio-only" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_index_problems_are_clear(tmp_path):
    root = make_crema_d_media(tmp_path / "crema_d")
    index = index_of("crema_d", root, tmp_path, params())
    with pytest.raises(PreprocessError, match="dataset 'crema_d', but --dataset is 'ravdess'"):
        run_preprocess(params(), index, tmp_path / "o1", dataset="ravdess", dataset_root=root)
    (tmp_path / "bad.csv").write_text("id,path\n1,a.mp4\n")
    with pytest.raises(PreprocessError, match="bad.csv: not a clip index.*clip_id"):
        run_preprocess(params(), tmp_path / "bad.csv", tmp_path / "o2", dataset="crema_d", dataset_root=root)
    # a row whose files are gone is a reject, not an error
    (root / "VideoFlash/1001_DFA_ANG_XX.flv").unlink()
    out = tmp_path / "o3"
    run_preprocess(params(), index, out, dataset="crema_d", dataset_root=root)
    rejects = read_csv(out / "rejects.csv")
    assert [(r["clip_id"], r["reason"]) for r in rejects] == [("1001_DFA_ANG_XX", "missing_video")]
    assert "VideoFlash/1001_DFA_ANG_XX.flv not found" in rejects[0]["detail"]


def test_cli_input_checks(tmp_path):
    from avssl.cli import main

    index = tmp_path / "crema_d.csv"
    index.write_text("clip_id\n")
    assert main(["preprocess", "--no-track", "--input", str(index), "--output", str(tmp_path / "o")]) == 2
    assert main(["preprocess", "--no-track", "--dataset", "crema_d", "--input", str(tmp_path), "--output",
                 str(tmp_path / "o")]) == 2
    assert main(["preprocess", "--no-track", "--dataset", "crema_d", "--input", str(index), "--root",
                 str(tmp_path / "nowhere"), "--output", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


# ---- the container readers ---------------------------------------------------------------------------


def test_decode_audio_exact_pcm_trimmed_aac_and_spans(tmp_path):
    from avssl.preprocessing.containers import decode_audio

    x = tone(0.8, 44100, channels=2)
    avi = write_media(tmp_path / "a.avi", face_frames(5)[0], audio=x, rate=44100, vcodec="mpeg4",
                      acodec="pcm_s16le")
    data, rate = decode_audio(avi)
    assert rate == 44100 and data.shape == x.shape and data.dtype == np.float32
    assert np.abs(data - x).max() < 1e-4  # PCM: the samples themselves
    mp4 = write_media(tmp_path / "a.mp4", audio=x, rate=44100)
    data, rate = decode_audio(mp4)
    assert data.shape == x.shape  # AAC's padded last frame is trimmed to the declared duration
    part, _ = decode_audio(mp4, (0.2, 0.5))
    assert part.shape == (int(round(0.3 * 44100)), 2)
    again, _ = decode_audio(mp4, (0.2, 0.5))
    np.testing.assert_array_equal(part, again)
    (tmp_path / "junk.mp4").write_bytes(b"not a container")
    with pytest.raises(ClipRejected, match="unreadable_audio: junk.mp4"):
        decode_audio(tmp_path / "junk.mp4")


def test_read_audio_routes_containers_to_pyav(tmp_path):
    from avssl.preprocessing.audio import read_audio

    mp4 = write_media(tmp_path / "a.mp4", face_frames(5)[0], audio=tone(0.5, 48000, channels=2), rate=48000)
    a = read_audio(mp4, 16000, 1e-4)
    assert a.decoder == "pyav" and a.source_rate == 48000 and a.source_channels == 2
    assert abs(len(a.samples) - 8000) <= 1 and a.samples.dtype == np.float32
    with pytest.raises(ClipRejected, match="no_audio_stream"):
        read_audio(write_media(tmp_path / "v.mp4", face_frames(5)[0]), 16000, 1e-4)
    wav = write_wav(tmp_path / "a.wav", tone(1.0, 16000))
    part = read_audio(wav, 16000, 1e-4, span=(0.25, 0.75))
    assert part.decoder == "soundfile" and len(part.samples) == 8000


def test_read_video_falls_back_to_pyav_and_reads_segments(tmp_path, monkeypatch):
    import avssl.preprocessing.video as video

    frames, _ = face_frames(20)
    mp4 = write_media(tmp_path / "a.mp4", frames)
    by_cv = video.read_video(mp4, 25)
    segment = video.read_video(mp4, 25, span=(0.2, 0.5))
    assert segment.decoder == "pyav" and len(segment.frames) == 7  # frames 5..11
    assert np.abs(segment.frames.astype(int) - by_cv.frames[5:12]).mean() < 3

    class Closed:
        def __init__(self, *_):
            pass

        def isOpened(self):
            return False

    monkeypatch.setattr(video.cv2, "VideoCapture", Closed)
    v = video.read_video(mp4, 25)
    assert v.decoder == "pyav" and v.frames.shape == by_cv.frames.shape
    assert np.abs(v.frames.astype(int) - by_cv.frames).mean() < 3
    (tmp_path / "junk.flv").write_bytes(b"FLV garbage")
    with pytest.raises(ClipRejected, match="unreadable_video: junk.flv: cannot be opened"):
        video.read_video(tmp_path / "junk.flv", 25)
