"""VoxCeleb2 adapter (licensed; Oxford VGG), unlabelled audio-visual pre-training data.

Real layout after unzipping: ``vox2_dev_mp4/dev/mp4/id00012/21Uxsk56VDQ/00001.mp4`` and
``vox2_test_mp4/mp4/id00017/.../00001.mp4`` (5,994 dev speakers / 1,092,009 clips; 118 test speakers /
36,237 clips). Mirrors differ in the wrapper folders, so the adapter anchors on the speaker folder
(``id`` + digits) followed by exactly ``<video>/<utt>.mp4``, and takes the split from any ``test`` folder
above it (otherwise ``train``). The audio-only ``aac/*.m4a`` release is reported, not indexed: the mp4s
carry the same audio.
"""

from __future__ import annotations

import re
from pathlib import Path

from avssl.config.datasets import DatasetsParams
from avssl.data.datasets.acquisition import Check, count_files
from avssl.data.datasets.schema import ClipRow, Problem
from avssl.data.datasets.walk import walk_files

NAME = "voxceleb2"
CHECKS = (
    Check("dev", "dev/mp4/id*/<video>/<utt>.mp4", lambda r: count_files(r, ".mp4", "dev"), 1092009),
    Check("test", "test mp4/id*/<video>/<utt>.mp4", lambda r: count_files(r, ".mp4") - count_files(r, ".mp4", "dev"), 36237),
)
INSTRUCTIONS = ("VoxCeleb2 is distributed by Oxford VGG on request (https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox2.html). "
                "Download vox2_dev_mp4 (concatenate the parts) and vox2_test_mp4, unzip both into ROOT (dev/mp4/id*/... and mp4/id*/... "
                "under vox2_test_mp4/ are both recognised).")
_SPEAKER = re.compile(r"^id\d+$")
_UTT = re.compile(r"^\d+\.mp4$", re.IGNORECASE)
_META = (".csv", ".txt", ".md")


def index(root: Path, params: DatasetsParams) -> tuple[list[ClipRow], list[Problem]]:
    rows: list[ClipRow] = []
    problems: list[Problem] = []
    for rel in walk_files(root):
        parts = rel.split("/")
        if len(parts) == 1 and rel.endswith(_META):
            continue  # speaker metadata (vox2_meta.csv) sits next to the trees
        spk_at = next((i for i, p in enumerate(parts) if _SPEAKER.match(p)), None)
        if rel.lower().endswith(".m4a"):
            problems.append(Problem(NAME, rel, "audio-only aac release not indexed (use the mp4 release)"))
            continue
        if spk_at is None or len(parts) - spk_at != 3 or not _UTT.match(parts[-1]):
            problems.append(Problem(NAME, rel, "unexpected file (expected .../id<digits>/<video>/<utt>.mp4)"))
            continue
        split = "test" if any("test" in p.lower() for p in parts[:spk_at]) else "train"
        speaker, video, utt = parts[spk_at], parts[spk_at + 1], parts[-1][:-4]
        rows.append(
            ClipRow(
                dataset=NAME, clip_id=f"{split}/{speaker}/{video}/{utt}", split=split, speaker=speaker,
                kind="unlabelled", subset="dev" if split == "train" else "test", video=rel, audio=rel,
            )
        )
    return rows, problems
