"""Adapters on fixture trees that mimic each corpus' real layout."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fixtures_datasets as fx  # noqa: E402

from avssl.config.datasets import DatasetsParams  # noqa: E402
from avssl.data.datasets import COLUMNS, index_dataset, index_to_files, read_index  # noqa: E402
from avssl.data.datasets.folds import assign_folds, split_for_fold  # noqa: E402
from avssl.data.datasets.segments import split_words  # noqa: E402
from avssl.data.datasets.transcript import Word  # noqa: E402


def reasons(problems) -> dict[str, str]:
    return {p.path: p.reason for p in problems}


def test_lrs3_high_segments_and_problems(tmp_path):
    rows, problems = index_dataset("lrs3", fx.make_lrs3(tmp_path))
    by_id = {r.clip_id: r for r in rows}
    segs = [r for r in rows if r.kind == "segment"]
    assert len(segs) == 3 and all(r.end - r.start <= 16.0 for r in segs)
    assert segs[0].start == 0.0 and segs[0].text.startswith("W0 W1")
    assert " ".join(r.text for r in sorted(segs, key=lambda r: r.clip_id)) == " ".join(f"W{i}" for i in range(40))
    assert by_id["pretrain/00j9bKdiOjk/00002"].kind == "sentence"
    assert by_id["test/0Fi83BHQsMA/00002"].split == "test"
    assert by_id["trainval/0af00UcTOSc/50001"].text == "SO I"
    assert by_id["trainval/0af00UcTOSc/50001"].speaker == "0af00UcTOSc"
    r = reasons(problems)
    assert "missing transcript" in r["trainval/0af00UcTOSc/50003.mp4"]
    assert "unexpected" in r["test/0Fi83BHQsMA/notes.doc"]


def test_lrs3_low_setting_skips_pretrain(tmp_path):
    rows, _ = index_dataset("lrs3", fx.make_lrs3(tmp_path), DatasetsParams(lrs3_setting="low"))
    assert {r.subset for r in rows} == {"trainval", "test"}


def test_split_words_bounds():
    words = [Word(str(i), i * 0.5, i * 0.5 + 0.4) for i in range(100)]
    segs = split_words(words, 16.0)
    assert sum(len(s.words) for s in segs) == 100
    assert all(s.end - s.start <= 16.0 for s in segs)
    with pytest.raises(ValueError):
        split_words([Word("LONG", 0.0, 20.0)], 16.0)


def test_lrw(tmp_path):
    rows, problems = index_dataset("lrw", fx.make_lrw(tmp_path))
    assert len(rows) == 6
    assert {r.split for r in rows} == {"train", "val", "test"}
    assert all(r.n_frames == 29 and r.word == r.clip_id.split("/")[0] for r in rows)
    assert rows[0].video.startswith("lipread_mp4/")
    r = reasons(problems)
    assert "Text" in r["lipread_mp4/ABOUT/train/ABOUT_00002.txt"]
    assert "unexpected" in r["lipread_mp4/ABOUT/train/WORLD_00003.mp4"]


def test_voxceleb2(tmp_path):
    rows, problems = index_dataset("voxceleb2", fx.make_voxceleb2(tmp_path))
    assert {(r.speaker, r.split) for r in rows} == {("id00012", "train"), ("id00015", "train"), ("id00017", "test")}
    assert len(rows) == 4 and all(r.kind == "unlabelled" for r in rows)
    assert list(reasons(problems)) == ["vox2_dev_mp4/dev/mp4/id00012/stray.mp4"]


def test_crema_d_folds_and_problems(tmp_path):
    params = DatasetsParams(n_folds=5, fold=2)
    rows, problems = index_dataset("crema_d", fx.make_crema_d(tmp_path), params)
    assert len(rows) == 11
    assert {r.emotion for r in rows} == {"angry", "neutral", "happy"}
    for spk in {r.speaker for r in rows}:  # speaker-independent: one split per speaker
        assert len({r.split for r in rows if r.speaker == spk}) == 1
    assert sorted({r.split for r in rows}) == ["test", "train", "val"]
    hap = next(r for r in rows if r.clip_id == "1001_IEO_HAP_HI")
    assert hap.video == "" and hap.intensity == "high" and hap.text == "It's eleven o'clock"
    r = reasons(problems)
    assert "sentence" in r["AudioWAV/1001_XYZ_ANG_XX.wav"]
    assert "VideoFlash/1001_DFA_ANG_XX.mp4" in r and "1001_IEO_HAP_HI" in r
    assert not any("processedResults" in p for p in r)


def test_ravdess(tmp_path):
    rows, problems = index_dataset("ravdess", fx.make_ravdess(tmp_path), DatasetsParams(n_folds=3, fold=0))
    assert len(rows) == 12
    row = next(r for r in rows if r.clip_id == "Actor_05/01-05-02-01-01-05")
    assert (row.emotion, row.intensity, row.speaker) == ("angry", "strong", "05")
    assert row.video == "Actor_05/01-01-05-02-01-01-05.mp4"
    assert row.audio == "Audio_Speech_Actors_01-24/Actor_05/03-01-05-02-01-01-05.wav"
    folds = {r.speaker: r.fold for r in rows}
    for f in range(3):  # gender-balanced folds
        members = [int(s) for s, k in folds.items() if k == f]
        assert sorted(m % 2 for m in members) == [0, 1]
    r = reasons(problems)
    assert "song" in r["Actor_01/01-02-03-01-01-01-01.mp4"]
    assert "does not match" in r["Actor_01/01-01-03-01-01-01-02.mp4"]
    assert "neutral with strong" in r["Actor_01/01-01-01-02-01-01-01.mp4"]
    assert "Actor_01/readme.txt" in r


def test_iemocap(tmp_path):
    rows, problems = index_dataset("iemocap", fx.make_iemocap(tmp_path), DatasetsParams(fold=4))
    assert len(rows) == 15  # 3 of 4 turns per session kept (fru excluded)
    assert {r.emotion for r in rows} == {"neutral", "happy", "angry"}
    assert {r.split for r in rows if r.subset == "Session5"} == {"test"}
    assert {r.split for r in rows if r.subset == "Session1"} == {"val"}
    m = next(r for r in rows if r.clip_id == "Ses02F_impro01_M000")
    assert (m.speaker, m.emotion, m.valence, m.arousal, m.dominance) == ("Ses02M", "happy", 2.5, 3.0, 3.5)
    assert m.video == "Session2/dialog/avi/DivX/Ses02F_impro01.avi" and m.start == 3.5 and m.end == 5.25
    r = reasons(problems)
    assert "fru" in r["Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F001.wav"]
    assert "without an evaluation" in r["Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F009.wav"]


def test_speech_commands(tmp_path):
    rows, problems = index_dataset("speech_commands", fx.make_speech_commands(tmp_path))
    words = [r for r in rows if r.kind == "word"]
    assert len(words) == 6
    assert {r.split for r in words if r.speaker == "0b09edd3"} == {"val"}
    assert {r.split for r in words if r.speaker == "0c2ca723"} == {"test"}
    assert [r.clip_id for r in rows if r.split == "noise"] == ["_background_noise_/white_noise"]
    r = reasons(problems)
    assert "missing" in r["no/ffffffff_nohash_0.wav"] and "yes/bad-name.wav" in r


def test_write_index_roundtrip(tmp_path):
    fx.make_crema_d(tmp_path / "crema")
    out = tmp_path / "out" / "crema_d.csv"
    counts = index_to_files("crema_d", tmp_path / "crema", out)
    assert counts["clips"] == 11 and counts["problems"] > 0
    rows = read_index(out)
    assert tuple(rows[0]) == COLUMNS
    with (tmp_path / "out" / "crema_d.problems.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == counts["problems"]
    first = out.read_bytes()
    index_to_files("crema_d", tmp_path / "crema", out)
    assert out.read_bytes() == first  # deterministic


def test_folds_rule():
    folds = assign_folds([str(i) for i in range(10)], 5)
    assert sorted(folds.values()) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert [split_for_fold(f, 4, 5) for f in range(5)] == ["val", "train", "train", "train", "test"]


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(KeyError):
        index_dataset("nope", tmp_path)
    with pytest.raises(FileNotFoundError):
        index_dataset("lrw", tmp_path / "absent")


MAKERS = {"lrs3": fx.make_lrs3, "lrw": fx.make_lrw, "voxceleb2": fx.make_voxceleb2, "crema_d": fx.make_crema_d,
          "ravdess": fx.make_ravdess, "iemocap": fx.make_iemocap, "speech_commands": fx.make_speech_commands}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_upper_case_media_extensions_index_the_same_clips(tmp_path, name):
    """.MP4 / .WAV / .FLV / .AVI (cameras, Windows copies) are the same media: same rows, same problems."""
    params = DatasetsParams(lrs3_setting="high")
    rows, problems = index_dataset(name, MAKERS[name](tmp_path / "lower"), params)
    upper = MAKERS[name](tmp_path / "upper")
    for p in sorted(upper.rglob("*")):
        if p.is_file() and p.suffix in (".mp4", ".wav", ".flv", ".avi"):
            p.rename(p.with_suffix(p.suffix.upper()))
    rows_u, problems_u = index_dataset(name, upper, params)

    def lowered(row):
        d = dict(vars(row)) if not isinstance(row, dict) else dict(row)
        return {k: (v.replace(".MP4", ".mp4").replace(".WAV", ".wav").replace(".FLV", ".flv").replace(".AVI", ".avi")
                    if isinstance(v, str) else v) for k, v in d.items()}

    assert rows and [lowered(r) for r in rows_u] == [lowered(r) for r in rows]
    assert sorted(lowered(p)["reason"] for p in problems_u) == sorted(lowered(p)["reason"] for p in problems)
    assert any(".MP4" in (r.video or "") or ".WAV" in (r.audio or "") for r in rows_u)  # the paths are as on disk
