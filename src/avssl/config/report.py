"""The `report` section: how the `report` stage turns MLflow runs into tables and figures."""

from typing import Literal

from pydantic import Field

from avssl.config.base import Section

TableName = Literal["emotion", "affect", "words", "noise", "small_data", "raven_wer", "cross_paper"]
ALL_TABLES: list[str] = ["emotion", "affect", "words", "noise", "small_data", "raven_wer", "cross_paper"]


class ReportParams(Section):
    tables: list[TableName] = Field(
        default_factory=lambda: list(ALL_TABLES),
        description="Tables to build (Shukla layout: emotion, affect, words, noise, small_data; RAVEn layout: "
        "raven_wer; cross_paper: every pre-training init x every task).",
    )
    figures: bool = Field(True, description="Draw the figures (training, SNR and label-fraction curves).")
    confusion_matrices: bool = Field(
        True, description="Copy the evaluate runs' confusion_matrix.png artifacts into results/figures/confusion/."
    )
    percent: bool = Field(
        True, description="Show accuracy, UAR, WER and CER in percent (runs log fractions; the papers print %)."
    )
    decimals: int = Field(1, ge=0, le=6, description="Decimals of percentages in the tables.")
    ccc_decimals: int = Field(3, ge=0, le=6, description="Decimals of CCC values in the tables.")
    main_fraction: float = Field(
        1.0, gt=0, le=1, description="Label fraction used by every table except small_data (and raven_wer, "
        "which shows all fractions as low/high-resource settings).",
    )
    published_reference: Literal["base_lrs3", "base_lrs3vox2", "large_lrs3vox2"] = Field(
        "base_lrs3", description="Published RAVEn model that our raven rows are compared with when dataset=lrs3."
    )
    max_runs: int = Field(50000, ge=1, description="Upper bound on runs read from MLflow per stage tag.")
