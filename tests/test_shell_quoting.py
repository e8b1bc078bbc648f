"""A params overlay's file name reaches the job as one argument and never runs as code.

`snakemake --configfile NAME` puts NAME into every rule's shell command (`--params NAME`). A name with spaces,
quotes, `$( )`, `;` or braces must arrive intact (shlex-quoted, braces escaped for Snakemake) and nothing in it
may execute: the overlay below would create the file PWNED if it did.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import copy_repo, env_for_copy, tool

ODD_NAME = "odd dir/ov $(touch PWNED); 'q' \"d\" {b} `touch PWNED`.yaml"
# The smallest corpus the synth stage accepts: 3 speakers x (2 words + 1 sentence) = 9 clips.
OVERLAY = ("synth: {n_speakers: 3, n_val_speakers: 1, n_test_speakers: 1, words_per_speaker: 2, "
           "sentences_per_speaker: 1, montage_clips: 4}\n")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = copy_repo(tmp_path_factory.mktemp("quoting") / "repo")
    overlay = root / ODD_NAME
    overlay.parent.mkdir(parents=True)
    overlay.write_text(OVERLAY)
    return root


def _pwned(root: Path) -> list[Path]:
    return list(root.rglob("PWNED"))


def test_dry_run_shows_the_overlay_quoted(root):
    proc = subprocess.run([tool("snakemake"), "-n", "--cores", "1", "--directory", ".test", "--configfile", ODD_NAME,
                           "--", "synthesize"], cwd=root, env=env_for_copy(root), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in (proc.stdout + proc.stderr).splitlines() if "avssl synth" in ln)
    command = line.split("Shell command:", 1)[-1].strip()
    args = shlex.split(command)
    files = [args[i + 1] for i, a in enumerate(args) if a == "--params"]
    assert files == ["params.yaml", "../" + ODD_NAME], command  # one argument each, as typed
    assert re.search(r"--params '\.\./odd dir/ov \$\(touch PWNED\)", command), command
    assert not _pwned(root)


@pytest.mark.slow
def test_a_real_job_reads_the_odd_overlay_and_runs_nothing_else(root):
    proc = subprocess.run([tool("snakemake"), "--cores", "1", "--directory", ".test", "--configfile", ODD_NAME,
                           "--", "synthesize"], cwd=root, env=env_for_copy(root), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not _pwned(root)
    metadata = (root / ".test/data/synth/metadata.csv").read_text().splitlines()
    assert len(metadata) == 1 + 9  # the overlay's corpus (the tiny preset alone has 288 clips)
