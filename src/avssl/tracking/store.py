"""Where runs go, and creating a fresh sqlite store exactly once.

Several processes creating a fresh MLflow sqlite store at once crash in its schema migration, so the first
creation happens under an exclusive file lock; afterwards concurrent writers are fine.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def resolve_uri(configured: str) -> str:
    """MLFLOW_TRACKING_URI wins over params; relative sqlite paths become absolute (jobs may chdir)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        uri = prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


def ensure_store(uri: str) -> None:
    """Create (migrate) the sqlite store once, serialised across processes by a lock file next to it."""
    if not uri.startswith("sqlite:///"):
        return
    db = Path(uri[len("sqlite:///") :])
    db.parent.mkdir(parents=True, exist_ok=True)
    marker = db.with_name(db.name + ".ready")
    if marker.exists() and db.exists():
        return
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and db.exists():
            return
        from mlflow.tracking import MlflowClient

        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
        marker.touch()
