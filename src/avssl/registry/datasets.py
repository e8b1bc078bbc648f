"""The real corpora: one :class:`Dataset` line each, naming the adapter module that knows the corpus.

Adding a corpus = one adapter module (``index(root, params)``; optionally ``SOURCE`` for a public download
or ``CHECKS`` + ``INSTRUCTIONS`` for a licensed release, see :mod:`avssl.data.acquire`) + one line in
:data:`DATASETS`. The config (`study.dataset`, `datasets.<name>_root`), the CLI choices, the `index` stage,
preprocessing and acquisition read their names and facts from here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

SYNTHETIC = "synthetic"  # the embedded corpus (stage `synthesize`): no adapter, no root


@dataclass(frozen=True)
class Dataset:
    name: str  # CLI --dataset choice, `study.dataset` value, data/index/<name>.csv
    adapter: str  # dotted module path of the adapter (imported on use)
    access: Literal["public", "licensed"]  # `avssl acquire` downloads a public corpus, verifies a licensed one
    root_help: str  # what `datasets.<name>_root` holds (the params description)
    audio_only: str = ""  # why it cannot be preprocessed audio-visually ("" = it can)
    affect_scale: tuple[float, float] | None = None  # clip-level arousal/valence scale, rescaled to [-1, 1]

    @property
    def root_key(self) -> str:
        return f"{self.name}_root"

    @property
    def default_root(self) -> str:
        return f"data/raw/{self.name}"

    def load(self) -> ModuleType:
        return importlib.import_module(self.adapter)


_A = "avssl.data.datasets."
DATASETS: tuple[Dataset, ...] = (
    Dataset("lrs3", _A + "lrs3", "licensed", "LRS3 root holding pretrain/, trainval/, test/ (licensed)."),
    Dataset("lrw", _A + "lrw", "licensed", "LRW root: lipread_mp4/ or the 500 word folders (licensed)."),
    Dataset("voxceleb2", _A + "voxceleb2", "licensed", "VoxCeleb2 root holding dev/ and test/ mp4 trees (licensed)."),
    Dataset("crema_d", _A + "crema_d", "public", "CREMA-D root holding AudioWAV/ and VideoFlash/ (public)."),
    Dataset("ravdess", _A + "ravdess", "public", "RAVDESS root holding Actor_01..Actor_24/ (public, Zenodo)."),
    Dataset("iemocap", _A + "iemocap", "licensed", "IEMOCAP root holding Session1..Session5/ (licensed).",
            affect_scale=(1.0, 5.0)),
    Dataset("speech_commands", _A + "speech_commands", "public",
            "Speech Commands v0.02 root: word folders + validation/testing lists (public).",
            audio_only="one-second .wav files, no video; its clips are for the audio-only words_audio task and as "
            "noise"),
)  # fmt: skip


def by_name() -> dict[str, Dataset]:
    return {d.name: d for d in DATASETS}


def dataset_names() -> tuple[str, ...]:
    return tuple(d.name for d in DATASETS)


def get(name: str) -> Dataset:
    try:
        return by_name()[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}") from None


def audio_only_message(name: str) -> str:
    """Why ``name`` cannot go through `avssl preprocess` (audio-visual shards), naming the corpora that can."""
    av = ", ".join(d.name for d in DATASETS if not d.audio_only)
    return (f"{name} is an audio-only corpus ({get(name).audio_only}), but `avssl preprocess` makes audio-visual "
            "shards (mouth ROIs, face crops and audio of the same clip) and needs a video per clip, so it cannot go "
            f"through this stage. Pre-train and fine-tune the audio-visual tasks on an audio-visual corpus ({av}).")
