"""One tracking module for every stage: an MLflow run per stage execution.

Stages receive a :class:`StageRun` (mlflow client), a :class:`~avssl.tracking.sqlite_run.SqliteRun` (the same
run written straight into a local sqlite store) or a :class:`NullRun` (unit tests), and only call
``log_metrics`` / ``log_artifact`` / ``log_figure`` / ``set_tags`` on it; they never import mlflow.
"""

from avssl.tracking.run import NullRun, StageRun, start_stage

__all__ = ["NullRun", "StageRun", "start_stage"]
