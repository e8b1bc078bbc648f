"""The preprocess stage never deletes what a user put in place, and accounts for every input file (issue 12)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_preprocess_media import make_clip, make_corpus

from avssl.cli import main
from avssl.config import Params
from avssl.preprocessing import PreprocessError, merge_parts, run_preprocess
from avssl.preprocessing.shards import read_csv

REPO = Path(__file__).resolve().parents[1]
SETS = ["--set", "preprocess.clips_per_shard=2", "--set", "preprocess.shard_groups=2"]


def tiny_params(**kw) -> Params:
    p = Params()
    p.preprocess = p.preprocess.model_copy(update={"clips_per_shard": 2, "shard_groups": 2, **kw})
    return p


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A user's data/ folder: raw clips, their own notes, and the part folders of two shard-group jobs."""
    data = tmp_path_factory.mktemp("proj") / "data"
    make_corpus(data / "raw", 3, n_frames=12)
    (data / "notes.txt").write_text("my annotations, not made by avssl\n")
    for i in range(2):
        run_preprocess(tiny_params(), data / "raw", data / "preprocess_parts" / str(i), shard_group=(i, 2))
    return data


def test_merge_refuses_an_output_that_holds_the_parts(data, capsys):
    before = snapshot(data)
    for out in (data, data / "preprocess_parts", data / "preprocess_parts" / "0", data / "preprocess_parts" / "1" / "x"):
        rc = main(["preprocess", "--params", str(REPO / "params.yaml"), *SETS, "--no-track",
                   "--merge-parts", str(data / "preprocess_parts"), "--output", str(out)])
        err = capsys.readouterr().err
        assert rc != 0 and "overlaps the part folder" in err and "Traceback" not in err
        assert snapshot(data) == before, f"--output {out} changed the user's files"


def test_merge_replaces_only_folders_avssl_made(data, tmp_path):
    parts = [data / "preprocess_parts" / str(i) for i in range(2)]
    mine = tmp_path / "mine"  # a user's folder with something in it
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / "index.csv").write_text("clip_id\nmy own\n")
    with pytest.raises(PreprocessError, match="not created by avssl.*refusing to replace"):
        merge_parts(parts, mine)
    assert sorted(p.name for p in mine.iterdir()) == ["index.csv", "thesis.tex"]
    assert (mine / "index.csv").read_text() == "clip_id\nmy own\n"
    (tmp_path / "file").write_text("x")
    with pytest.raises(PreprocessError, match="not a folder"):
        merge_parts(parts, tmp_path / "file")

    empty = tmp_path / "empty"
    empty.mkdir()
    assert merge_parts(parts, empty)["n_clips"] == 3  # an empty folder may be filled
    first = snapshot(empty)
    assert merge_parts(parts, empty)["n_clips"] == 3  # our own result may be replaced (re-merge)
    assert snapshot(empty) == first
    (empty / "plot.png").write_bytes(b"user's figure")  # ... but not once someone added their files
    with pytest.raises(PreprocessError, match="plot.png.*refusing to replace"):
        merge_parts(parts, empty)
    assert (empty / "plot.png").read_bytes() == b"user's figure" and (empty / "index.csv").is_file()


def test_upper_case_extensions_are_taken_and_unused_files_reported(tmp_path, capsys):
    d = tmp_path / "in"
    make_corpus(d, 4, n_frames=12)
    (d / "clip001.mp4").rename(d / "clip001.MP4")  # camera / Windows names
    (d / "clip002.wav").rename(d / "clip002.WAV")
    make_clip(d, "clip003b", 12)
    shutil.copy(d / "clip003.mp4", d / "clip003.Mp4")  # a second video of clip003: only one can be used
    (d / "clip003b.mp4").unlink()  # clip003b: audio only -> a reject row (with the reason), not an unused file
    (d / "notes.docx").write_bytes(b"x")
    (d / "raw").mkdir()
    (d / "ghost.npz").write_bytes(b"x")
    out = tmp_path / "out"
    m = run_preprocess(tiny_params(shard_groups=1, max_reject_rate=0.5), d, out)
    index = {r["clip_id"]: r for r in read_csv(out / "index.csv")}
    assert set(index) == {"clip000", "clip001", "clip002", "clip003"}
    rejects = {r["clip_id"]: r["reason"] for r in read_csv(out / "rejects.csv")}
    assert rejects == {"clip003b": "missing_video"}
    unused = {r["file"]: r["reason"] for r in read_csv(out / "unused_files.csv")}
    dup = "clip003.mp4" if "clip003.mp4" in unused else "clip003.Mp4"
    assert unused == {dup: "duplicate_video", "notes.docx": "not_a_clip_file", "raw/": "folder",
                      "ghost.npz": "no_clip", "clip003b.npz": "clip_rejected"}
    assert m["n_unused_files"] == 5
    err = capsys.readouterr().err
    assert "5 file(s) in" in err and "not used" in err and "unused_files.csv" in err
