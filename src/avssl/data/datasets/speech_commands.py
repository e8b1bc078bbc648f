"""Google Speech Commands v0.02 adapter (public, CC BY 4.0).

Layout (the tarball has no top folder): ``<word>/<speaker-hash>_nohash_<n>.wav`` for 35 words,
``validation_list.txt`` and ``testing_list.txt`` (relative paths), ``_background_noise_/*.wav`` (long
noise recordings, indexed with split/kind ``noise``), ``LICENSE``, ``README.md``. 105,829 utterances.
Split membership comes from the two lists (everything else is train), which keep a speaker's clips in one
split; speaker = the hash prefix.
"""

from __future__ import annotations

import re
from pathlib import Path

from avssl.config.datasets import DatasetsParams
from avssl.data.datasets.acquisition import Archive, PublicDataset
from avssl.data.datasets.schema import ClipRow, Problem
from avssl.data.datasets.walk import lower_ext, walk_files

NAME = "speech_commands"
SOURCE = PublicDataset(
    name=NAME,
    licence="CC BY 4.0",
    homepage="https://www.tensorflow.org/datasets/catalog/speech_commands",
    archives=(
        Archive(
            "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
            "speech_commands_v0.02.tar.gz",
            sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
            md5="6b74f3901214cb2c2934e98196829835",
        ),
    ),
    notes="The tarball has no top-level folder: it unpacks the word folders directly into the root.",
)
NOISE_DIR = "_background_noise_"
LISTS = {"validation_list.txt": "val", "testing_list.txt": "test"}
META = {"LICENSE", "README.md", *LISTS}
_CLIP = re.compile(r"^([a-z]+)/([0-9a-f]{8})_nohash_(\d+)\.(?i:wav)$")


def _read_list(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()] if path.is_file() else []


def index(root: Path, params: DatasetsParams) -> tuple[list[ClipRow], list[Problem]]:
    problems: list[Problem] = []
    split_of: dict[str, str] = {}
    for name, split in LISTS.items():
        if not (root / name).is_file():
            problems.append(Problem(NAME, name, f"split list missing: its clips are indexed as train, not {split}"))
        for rel in _read_list(root / name):
            split_of[lower_ext(rel)] = split
    rows: list[ClipRow] = []
    for rel in walk_files(root):
        if rel in META:
            continue
        if rel.startswith(NOISE_DIR + "/"):
            if rel.lower().endswith(".wav"):
                rows.append(ClipRow(dataset=NAME, clip_id=rel[:-4], split="noise", kind="noise", audio=rel))
            continue  # README in the noise folder
        m = _CLIP.match(rel)
        if not m:
            problems.append(Problem(NAME, rel, "unexpected file (expected <word>/<hash>_nohash_<n>.wav)"))
            continue
        word, speaker, _ = m.groups()
        rows.append(
            ClipRow(dataset=NAME, clip_id=rel[:-4], split=split_of.pop(lower_ext(rel), "train"), speaker=speaker,
                    kind="word", text=word, word=word, audio=rel)
        )
    for rel in sorted(split_of):
        problems.append(Problem(NAME, rel, "listed in a split list but the file is missing"))
    return rows, problems
