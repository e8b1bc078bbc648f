"""The `datasets` section: where the real corpora live and how they are split (owned by avssl.data.datasets).

Only paths and protocol choices live here; the per-corpus facts (file layouts, label names, expected
counts) live with the adapters in :mod:`avssl.data.datasets` and :mod:`avssl.data.acquire`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from avssl.config.base import Section

DATASET_NAMES = ("lrs3", "lrw", "voxceleb2", "crema_d", "ravdess", "iemocap", "speech_commands")


class DatasetsParams(Section):
    """Roots of the real corpora and the splitting protocol applied when indexing them."""

    lrs3_root: str = Field("data/raw/lrs3", description="LRS3 root holding pretrain/, trainval/, test/ (licensed).")
    lrw_root: str = Field("data/raw/lrw", description="LRW root: lipread_mp4/ or the 500 word folders (licensed).")
    voxceleb2_root: str = Field("data/raw/voxceleb2", description="VoxCeleb2 root holding dev/ and test/ mp4 trees (licensed).")
    crema_d_root: str = Field("data/raw/crema_d", description="CREMA-D root holding AudioWAV/ and VideoFlash/ (public).")
    ravdess_root: str = Field("data/raw/ravdess", description="RAVDESS root holding Actor_01..Actor_24/ (public, Zenodo).")
    iemocap_root: str = Field("data/raw/iemocap", description="IEMOCAP root holding Session1..Session5/ (licensed).")
    speech_commands_root: str = Field(
        "data/raw/speech_commands", description="Speech Commands v0.02 root: word folders + validation/testing lists (public)."
    )
    lrs3_setting: Literal["low", "high"] = Field(
        "high",
        description="LRS3 labelled set: 'low' = trainval (30 h); 'high' = pretrain + trainval (433 h). Test is always test (1,321 utt.).",
    )
    max_segment_s: float = Field(
        16.0, gt=1.0, le=60.0, description="Long LRS3 pretrain utterances are cut at word boundaries into segments of at most this many seconds (RAVEn: 16)."
    )
    n_folds: int = Field(5, ge=2, le=24, description="Speaker-independent folds for CREMA-D and RAVDESS (IEMOCAP always uses its 5 sessions).")
    fold: int = Field(0, ge=0, description="Test fold; the next fold (mod n_folds) is validation, the rest training.")
    download_dir: str = Field(
        ".downloads", description="Where public archives are downloaded, relative to the dataset root (hidden: adapters skip it)."
    )
    min_files: dict[str, int] = Field(
        default_factory=dict,
        description="Overrides of the expected file counts checked by `verify`, keyed 'dataset/check' (e.g. 'lrs3/test': 1321); lower them to work on a subset.",
    )

    @model_validator(mode="after")
    def _fold_in_range(self) -> "DatasetsParams":
        if self.fold >= self.n_folds:
            raise ValueError(f"fold {self.fold} must be < n_folds {self.n_folds}")
        return self

    def root(self, name: str) -> str:
        """The configured root of dataset ``name``."""
        if name not in DATASET_NAMES:
            raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
        return getattr(self, f"{name}_root")
