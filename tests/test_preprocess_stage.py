"""run_preprocess end to end on small astronaut corpora: outputs, rejects, resume, shard groups, determinism."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_preprocess_media import make_clip, make_corpus, write_metadata

from avssl.config import Params
from avssl.preprocessing import PreprocessError, merge_shards, run_preprocess


def tiny_params(**kw) -> Params:
    p = Params()
    p.preprocess = p.preprocess.model_copy(update={"clips_per_shard": 2, **kw})
    return p


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    make_corpus(d, 5, n_frames=20)
    return d


@pytest.fixture(scope="module")
def full_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "p"
    metrics = run_preprocess(tiny_params(), corpus, out)
    return out, metrics


def digest(out: Path) -> dict[str, str]:
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "plan.json")
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_outputs_and_loader(full_run):
    from avssl.data.processed import ProcessedDataset

    out, m = full_run
    assert m["n_clips"] == 5 and m["n_rejected"] == 0 and m["frames"] == 100 and m["n_shards"] == 3
    ds = ProcessedDataset(out)
    assert len(ds) == 5 and ds.ids() == [f"clip{i:03d}" for i in range(5)]
    assert ds.ids("val") == ["clip003"]
    item = ds["clip001"]
    assert item["video"].shape == (20, 96, 96) and item["video"].dtype == np.uint8
    assert item["face"].shape == (20, 64, 64) and item["face"].dtype == np.uint8
    assert item["audio"].shape == (20 * 640,) and item["audio"].dtype == np.float32
    assert item["meta"]["speaker"] == "spk1" and item["meta"]["emotion"] == "sad"
    assert item["video"].std() > 5  # a real image, not a constant
    ann = ds.annotations("clip001")
    assert set(ann) >= {"arousal", "valence"} and ann["arousal"].shape == (20,)
    track = ds.track("clip001")
    err = np.hypot(*(track["mouth_center"] - ann["mouth_center"]).T)
    assert np.mean(err < 5) >= 0.95
    assert sum(1 for _ in ds) == 5


def test_resume_skips_finished_shards(full_run, corpus):
    out, _ = full_run
    before = digest(out)
    m = run_preprocess(tiny_params(), corpus, out)
    assert m["n_shards_skipped"] == 3 and m["n_shards_processed"] == 0 and m["n_clips"] == 5
    assert digest(out) == before
    # a lost shard is redone, identically (determinism)
    shutil.rmtree(out / "shards" / "shard-00001")
    m = run_preprocess(tiny_params(), corpus, out)
    assert m["n_shards_processed"] == 1 and m["frames_processed"] == 40
    assert digest(out) == before


def test_shard_groups_then_merge_equal_full_run(full_run, corpus, tmp_path):
    out, _ = full_run
    out2 = tmp_path / "g"
    for i in range(2):
        m = run_preprocess(tiny_params(), corpus, out2, shard_group=(i, 2))
        assert "n_clips" not in m  # groups never merge
    with pytest.raises(PreprocessError):  # nothing merged yet, but merging a partial plan must refuse
        shutil.move(out2 / "shards" / "shard-00002", tmp_path / "x")
        merge_shards(out2)
    shutil.move(tmp_path / "x", out2 / "shards" / "shard-00002")
    merge_shards(out2)
    assert digest(out2) == digest(out)


def test_part_folders_merge_into_the_full_run(full_run, corpus, tmp_path):
    """The workflow's scale-out: each shard-group job owns a part folder; merging them equals one full run."""
    from avssl.preprocessing import merge_parts

    out, _ = full_run
    parts = [tmp_path / "parts" / str(i) for i in range(2)]
    for i, part in enumerate(parts):
        run_preprocess(tiny_params(shard_groups=2), corpus, part, shard_group=(i, 2))
    assert sorted(p.name for p in (parts[1] / "shards").iterdir()) == ["shard-00001"]
    with pytest.raises(PreprocessError, match="shard-00001.*did every shard-group job finish"):
        merge_parts(parts[:1], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()  # a failed merge leaves nothing behind
    m = merge_parts(parts, tmp_path / "merged")
    assert m["n_parts"] == 2 and m["n_clips"] == 5 and m["n_shards"] == 3
    assert digest(tmp_path / "merged") == digest(out)
    shard = tmp_path / "merged" / "shards" / "shard-00001"
    original = parts[1] / "shards" / "shard-00001"
    same = [f.name for f in shard.iterdir() if f.stat().st_ino == (original / f.name).stat().st_ino]
    assert same, "shard files are hard-linked, not copied"
    # a part made with other params or input cannot be mixed in
    other = tmp_path / "other"
    run_preprocess(tiny_params(crop_size=112), corpus, other, shard_group=(1, 2))
    with pytest.raises(PreprocessError, match="plan.json differs"):
        merge_parts([parts[0], other], tmp_path / "merged2")


def test_changed_params_refuse_the_output_dir(full_run, corpus):
    out, _ = full_run
    with pytest.raises(PreprocessError, match="different params"):
        run_preprocess(tiny_params(crop_size=112), corpus, out)


def test_bad_inputs_are_rejected_not_lost(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    good = [f"ok{i}" for i in range(3)]
    for i, cid in enumerate(good):
        make_clip(d, cid, 15, seed=i)
    make_clip(d, "trunc", 15)
    data = (d / "trunc.mp4").read_bytes()
    (d / "trunc.mp4").write_bytes(data[: len(data) // 2])
    make_clip(d, "emptywav", 15)
    (d / "emptywav.wav").write_bytes(b"")
    make_clip(d, "silent", 15)
    sf.write(str(d / "silent.wav"), np.zeros(15 * 640, np.float32), 16000)
    make_clip(d, "hz44k", 15, rate=44100)  # resampled, kept
    make_clip(d, "drift", 15, audio_frames=25)  # 0.4 s too long
    make_clip(d, "small_drift", 15, audio_frames=16)  # 0.04 s: padded/trimmed, kept
    make_clip(d, "noface", 15, blank=True)
    make_clip(d, "novideo", 15)
    (d / "novideo.mp4").unlink()
    make_clip(d, "noaudio", 15)
    (d / "noaudio.wav").unlink()
    make_clip(d, "extra", 15)  # files without a metadata row
    ids = good + ["trunc", "emptywav", "silent", "hz44k", "drift", "small_drift", "noface", "novideo",
                  "noaudio", "ghost"]
    write_metadata(d, [{"clip_id": c, "speaker": "s"} for c in ids])
    out = tmp_path / "out"
    p = tiny_params(clips_per_shard=4, max_reject_rate=0.9)
    m = run_preprocess(p, d, out, threads=2)
    from avssl.preprocessing.shards import read_csv

    rejects = {r["clip_id"]: r["reason"] for r in read_csv(out / "rejects.csv")}
    assert rejects == {
        "trunc": "unreadable_video", "emptywav": "unreadable_audio", "silent": "silent_audio",
        "drift": "length_mismatch", "noface": "no_face", "novideo": "missing_video", "noaudio": "missing_audio",
        "extra": "no_metadata", "ghost": "missing_files",
    }
    assert m["n_clips"] == 5 and m["n_rejected"] == 9 and m["reject_no_face"] == 1
    index = {r["clip_id"]: r for r in read_csv(out / "index.csv")}
    assert set(index) == {"ok0", "ok1", "ok2", "hz44k", "small_drift"}
    assert "audio resampled 44100->16000" in index["hz44k"]["notes"]
    assert int(index["small_drift"]["drift_samples"]) == 640 and m["n_resampled_audio"] == 1

    # same input with the default threshold: everything is written, then the stage fails loudly
    out2 = tmp_path / "out2"
    with pytest.raises(PreprocessError, match=r"reject rate 64\.3% .*max_reject_rate 20\.0%"):
        run_preprocess(tiny_params(clips_per_shard=4), d, out2)
    assert (out2 / "index.csv").is_file() and len(read_csv(out2 / "rejects.csv")) == 9


def test_landmarks_backend_missing_gives_clear_error(corpus, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "avssl.preprocessing.landmark_align", None)  # import now fails
    with pytest.raises(PreprocessError, match="landmark_align"):
        run_preprocess(tiny_params(locator="landmarks"), corpus, tmp_path / "o")


def test_parallel_run_is_identical(full_run, corpus, tmp_path):
    out, _ = full_run
    run_preprocess(tiny_params(), corpus, tmp_path / "par", threads=2)
    assert digest(tmp_path / "par") == digest(out)
