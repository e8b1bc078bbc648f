"""The `study` and `tracking` sections: what the runs are called and where they are logged."""

from typing import Literal

from pydantic import Field

from avssl.config.base import Section
from avssl.registry import datasets


class StudyParams(Section):
    name: str = Field("synthetic-default", description="Study name; the MLflow experiment is 'avssl/<name>'.")
    seed: int = Field(0, ge=0, description="Master seed: every stage derives its random streams from it.")
    dataset: Literal[(datasets.SYNTHETIC, *datasets.dataset_names())] = Field(
        datasets.SYNTHETIC, description="Which corpus the DAG runs on (synthetic = the embedded eSpeak NG corpus)."
    )


class TrackingParams(Section):
    uri: str = Field(
        "sqlite:///mlflow.db",
        description="MLflow tracking URI (relative sqlite paths are relative to the working directory). "
        "The MLFLOW_TRACKING_URI environment variable overrides it, e.g. for a team server.",
    )
    system_metrics: bool = Field(False, description="Log MLflow system metrics (CPU/GPU/memory) during training.")
