"""Tables and figures from MLflow (stage `report`). Importing this package does not import mlflow."""

from avssl.report.stage import run_report

__all__ = ["run_report"]
