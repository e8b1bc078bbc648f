"""Snakemake and DVC share one state: after a run by either tool, `snakemake -n` and `dvc status` both report
nothing to do, artifacts sit in DVC's cache as links (no second copy), and the other tool's no-op keeps it so."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from avssl.dvc_sync import FinishedJob, restore, skip_reason, snapshot, stage_target
from tests.conftest import copy_repo, env_for_copy, env_with_venv, tool

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env or env_with_venv(), capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(cmd)}:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


def test_stage_target_names_the_dvc_yaml_stage_of_a_job():
    ft = {"task": "emotion", "init": "raven", "mode": "frozen", "fraction": "0.1", "seed": "0"}
    assert stage_target(FinishedJob("synthesize", {}, ())) == "synthesize"
    assert stage_target(FinishedJob("preprocess_part", {"part": "1"}, ())) == "preprocess_part@1"
    assert stage_target(FinishedJob("finetune", ft, ())) == "finetune@emotion-raven-frozen-0.1-0"
    assert stage_target(FinishedJob("all", {}, ())) is None


def test_runs_dvc_cannot_repeat_are_not_recorded(tmp_path):
    from avssl.config import load_params
    from avssl.stages import to_dvc

    params = load_params([REPO / "params.yaml"]).model_dump(mode="json")
    assert "not a DVC project root" in skip_reason(tmp_path, ["params.yaml"], params)
    assert skip_reason(REPO, ["params.yaml"], params) is None  # the checkout's dvc.yaml is current
    assert "overlays" in skip_reason(REPO, ["params.yaml", "paper.yaml"], params)
    (tmp_path / ".dvc").mkdir()
    stale = to_dvc(params)
    stale["stages"].pop("report")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(stale))
    assert "dvc.yaml is stale" in skip_reason(tmp_path, ["params.yaml"], params)


def test_dvc_commit_with_restore_keeps_every_mtime_and_links_the_cache(tmp_path):
    """What `dvc commit` does to outputs (copies empty files, re-links duplicate content to an older cache
    file) is undone for mtimes; non-empty files become links of the cache (same inode, no copy)."""
    env = env_with_venv()
    _run(["git", "init", "-q"], tmp_path, env)
    _run([tool("dvc"), "init", "-q"], tmp_path, env)
    (tmp_path / ".dvc/config").write_text((REPO / ".dvc/config").read_text())
    (tmp_path / ".dvcignore").write_text((REPO / ".dvcignore").read_text())
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "a": {"cmd": "true", "outs": ["d", "a.txt", "empty.txt"]},
        "b": {"cmd": "true", "deps": ["a.txt"], "outs": ["b.txt"]},
    }}))  # fmt: skip
    (tmp_path / "d").mkdir()
    (tmp_path / "d/x.bin").write_bytes(b"x" * 1000)
    (tmp_path / "d/.snakemake_timestamp").write_bytes(b"")
    (tmp_path / "a.txt").write_text("same")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "b.txt").write_text("same")  # identical content from another (later) job
    for i, name in enumerate(["d/x.bin", "d/.snakemake_timestamp", "d", "a.txt", "empty.txt", "b.txt"]):
        os.utime(tmp_path / name, (1_600_000_000 + i, 1_600_000_000 + i))
    outs = [str(tmp_path / n) for n in ("d", "a.txt", "empty.txt", "b.txt")]
    before = snapshot(outs)
    _run([tool("dvc"), "commit", "--force", "--quiet", "a", "b"], tmp_path, env)
    assert snapshot(outs) != before  # what goes wrong without the restore
    counts = restore(before)
    assert snapshot(outs) == before
    assert counts["unshared"] == 1  # b.txt: its own mtime needs its own inode
    assert os.stat(tmp_path / "d/x.bin").st_nlink == 2  # the workspace file is the cache file
    assert "up to date" in _run([tool("dvc"), "status"], tmp_path, env).stdout


# --- the round trip through both tools, on a cut-down tiny preset (synthesize + preprocess) ---------------


def _small_copy(dest: Path) -> Path:
    """A repo copy whose params.yaml is the tiny preset with a ~20-clip corpus, and its dvc.yaml."""
    root = copy_repo(dest)
    data = yaml.safe_load((root / ".test/params.yaml").read_text())
    data["synth"].update(n_speakers=3, words_per_speaker=5, sentences_per_speaker=1, montage_clips=4)
    data["preprocess"]["max_reject_rate"] = 1.0
    (root / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    env = env_for_copy(root)
    _run([tool("python"), "-m", "avssl", "dvc-yaml", "--output", "dvc.yaml"], root, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "small"], root, env)
    return root


STAGES = ["synthesize", "preprocess_part@0", "preprocess_part@1", "preprocess"]


def _both_idle(root: Path) -> None:
    env = env_for_copy(root)
    smk = _run([tool("snakemake"), "--cores", "2", "-n", "data/processed"], root, env)
    assert "Nothing to be done" in smk.stdout + smk.stderr, smk.stdout + smk.stderr
    dvc = _run([tool("dvc"), "status", *STAGES], root, env)
    assert "up to date" in dvc.stdout, dvc.stdout


@pytest.mark.slow
@pytest.mark.integration
def test_after_snakemake_both_tools_are_idle_and_the_cache_holds_links(tmp_path):
    root = _small_copy(tmp_path / "repo")
    env = env_for_copy(root)
    run = _run([tool("snakemake"), "--cores", "2", "data/processed"], root, env)
    assert "DVC: committed 4 stage(s)" in run.stdout + run.stderr, run.stderr[-3000:]
    _both_idle(root)
    cached = {os.stat(p).st_ino for p in (root / ".dvc/cache").rglob("*") if p.is_file()}
    shard = next((root / "data/processed/shards").rglob("audio.f32"))
    assert os.stat(shard).st_ino in cached  # the workspace file is the cache file: linked, not copied
    again = _run([tool("snakemake"), "--cores", "2", "data/processed"], root, env)  # Snakemake's no-op
    assert "Nothing to be done" in again.stdout + again.stderr
    _run([tool("dvc"), "repro", "preprocess"], root, env)  # DVC's no-op
    _both_idle(root)


@pytest.mark.slow
@pytest.mark.integration
def test_after_dvc_repro_both_tools_are_idle(tmp_path):
    root = _small_copy(tmp_path / "repo")
    env = env_for_copy(root)
    _run([tool("dvc"), "repro", "preprocess"], root, env)
    _both_idle(root)
    again = _run([tool("snakemake"), "--cores", "2", "data/processed"], root, env)  # Snakemake's no-op
    assert "Nothing to be done" in again.stdout + again.stderr
    _both_idle(root)
