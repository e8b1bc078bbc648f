"""The `datasets` section: where the real corpora live and how they are split (owned by avssl.data.datasets).

Only paths and protocol choices live here; the per-corpus facts (file layouts, label names, expected
counts) live with the adapters in :mod:`avssl.data.datasets` and :mod:`avssl.data.acquire`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, create_model, model_validator

from avssl.config.base import Section
from avssl.registry import datasets

DATASET_NAMES = datasets.dataset_names()

# datasets.<name>_root for every registered corpus, in registry order (avssl.registry.datasets).
_Roots = create_model(
    "_DatasetRoots", __base__=Section,
    **{d.root_key: (str, Field(d.default_root, description=d.root_help)) for d in datasets.DATASETS},
)  # fmt: skip


class DatasetsParams(_Roots):
    """Roots of the real corpora and the splitting protocol applied when indexing them."""

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
        return getattr(self, datasets.get(name).root_key)
