"""A stage's MLflow run written straight into the sqlite store, without importing mlflow.

``import mlflow`` plus its SQLAlchemy store cost ~2 s in every job on the 2-core machine, and each
``log_metrics`` call another ~30 ms of ORM work. A run is a handful of rows (``runs``, ``tags``, ``params``,
``metrics``, ``latest_metrics``) and files under the run's artifact folder, so this module writes exactly the
rows and files MLflow's own client writes for the calls stages make: same columns, same ``mlflow.*`` context
tags (user, source name/type, git commit/branch/repo URL of the entry point), same NaN/inf encoding, same
latest-metric rule, same artifact layout. The MLflow UI, ``MlflowClient`` and ``avssl report`` read the runs
unchanged (tests/test_tracking_sqlite.py logs one run both ways and compares them through ``MlflowClient``).

Used only where that equivalence is known: a ``sqlite:///`` store already created and migrated by real MLflow
(``store.ensure_store``) at :data:`SCHEMA_VERSION`, an existing active experiment with a local artifact
location, no system-metrics logging, and no other ``MLFLOW_*`` setting in the environment (credentials, run
context, an active run id). Everything else — team servers, other schema versions — goes through mlflow.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlparse

from avssl.tracking.run import NullRun

# The alembic head of the pinned mlflow (requirements.lock); a store at another version is written by mlflow.
SCHEMA_VERSION = "dc11669786a5"
MAX_TAG_VALUE = 8000  # MLflow truncates longer tag values
MAX_PARAM_VALUE = 6000
_DOUBLE_MAX = 1.7976931348623157e308
_CHOSEN_BY_US = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


def usable(uri: str, system_metrics: bool) -> bool:
    """Whether this writer may stand in for mlflow (see the module docstring)."""
    if not uri.startswith("sqlite:///") or system_metrics:
        return False
    # The store and the experiment are chosen by start_stage (mlflow.set_* also exports these two).
    return not any(k.startswith("MLFLOW_") and k not in _CHOSEN_BY_US for k in os.environ)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, timeout=60, isolation_level=None)  # explicit transactions below
    con.execute("PRAGMA busy_timeout = 60000")
    return con


def find_experiment(db: Path, name: str) -> tuple[str, str] | None:
    """(experiment id, artifact location) of an active experiment, or None when this writer cannot be used.

    None also when the store's schema is not :data:`SCHEMA_VERSION` or the experiment does not exist yet
    (mlflow creates it, once per study).
    """
    con = _connect(db)
    try:
        version = con.execute("SELECT version_num FROM alembic_version").fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            return None
        row = con.execute("SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments "
                          "WHERE name = ? AND workspace = 'default'", (name,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        con.close()
    if row is None or row[2] != "active" or _local_path(row[1]) is None:
        return None
    return str(row[0]), row[1]


def _local_path(uri: str | None) -> Path | None:
    """A local artifact location as a path (``file:`` URI or plain absolute path), else None."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


def _git(cwd: str, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def context_tags() -> dict[str, str]:
    """The ``mlflow.*`` tags MLflow's default and git run-context providers set on a new run."""
    main = sys.argv[0] if sys.argv and sys.argv[0] else None
    tags = {"mlflow.user": _user(), "mlflow.source.name": main or "<console>", "mlflow.source.type": "LOCAL"}
    if main is None:
        return tags
    where = os.path.dirname(os.path.abspath(main)) if os.path.isfile(main) else main
    if not os.path.isdir(where):
        return tags
    commit = _git(where, "rev-parse", "HEAD")
    if commit is None or _git(where, "check-ignore", where) is not None:  # mlflow: no commit for ignored paths
        return tags
    tags["mlflow.source.git.commit"] = commit
    branch = _git(where, "symbolic-ref", "--short", "-q", "HEAD")
    if branch:
        tags["mlflow.source.git.branch"] = branch
    remote = (_git(where, "remote") or "").split("\n")[0]
    url = _git(where, "config", "--get", f"remote.{remote}.url") if remote else None
    if url:
        tags["mlflow.source.git.repoURL"] = _strip_credentials(url)
    return tags


def _user() -> str:
    try:
        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return "unknown"


def _strip_credentials(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https") and (parsed.username or parsed.password):
        netloc = parsed.hostname + (f":{parsed.port}" if parsed.port else "")
        return parsed._replace(netloc=netloc).geturl()
    return url


def _metric_value(value: float) -> tuple[float, int]:
    """(stored value, is_nan) as MLflow stores them: NaN -> 0 with the flag, ±inf -> ±max double."""
    if math.isnan(value):
        return 0.0, 1
    if math.isinf(value):
        return (_DOUBLE_MAX if value > 0 else -_DOUBLE_MAX), 0
    return value, 0


class SqliteRun(NullRun):
    """An open MLflow run in a sqlite store; same interface as :class:`avssl.tracking.run.StageRun`."""

    def __init__(self, db: Path, experiment_id: str, artifact_location: str, run_name: str):
        self._db = db
        self.run_id = uuid.uuid4().hex
        self.artifact_uri = f"{artifact_location.rstrip('/')}/{self.run_id}/artifacts"
        self.artifact_dir = _local_path(self.artifact_uri)
        self._con = _connect(db)
        tags = {**context_tags(), "mlflow.runName": run_name}
        with self._transaction() as con:
            con.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                "start_time, end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                "VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, NULL, '', 'active', ?, ?)",
                (self.run_id, run_name, tags["mlflow.user"], _now_ms(), self.artifact_uri, int(experiment_id)),
            )
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                            [(k, v[:MAX_TAG_VALUE], self.run_id) for k, v in tags.items()])

    def _transaction(self):
        con = self._con

        class _Tx:
            def __enter__(self_inner):
                con.execute("BEGIN IMMEDIATE")
                return con

            def __exit__(self_inner, exc_type, *_):
                con.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None}
        if not clean:
            return
        ts, step = _now_ms(), int(step or 0)
        rows = [(k, *_metric_value(v)) for k, v in clean.items()]
        with self._transaction() as con:
            con.executemany("INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                            "VALUES (?, ?, ?, ?, ?, ?)", [(k, v, ts, self.run_id, step, nan) for k, v, nan in rows])
            for key, value, nan in rows:
                old = con.execute("SELECT step, timestamp, value FROM latest_metrics WHERE run_uuid = ? AND key = ?",
                                  (self.run_id, key)).fetchone()
                if old is None:
                    con.execute("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                                "VALUES (?, ?, ?, ?, ?, ?)", (key, value, ts, step, nan, self.run_id))
                elif (step, ts, value) > tuple(old):  # MLflow's rule: newer by (step, timestamp, value)
                    con.execute("UPDATE latest_metrics SET value = ?, timestamp = ?, step = ?, is_nan = ? "
                                "WHERE run_uuid = ? AND key = ?", (value, ts, step, nan, self.run_id, key))

    def log_params(self, params: Mapping[str, Any]) -> None:
        from avssl.tracking.provenance import flatten

        items = {k: str(v)[:MAX_PARAM_VALUE] for k, v in flatten(params).items()}
        with self._transaction() as con:
            old = dict(con.execute("SELECT key, value FROM params WHERE run_uuid = ?", (self.run_id,)).fetchall())
            changed = {k: (old[k], v) for k, v in items.items() if k in old and old[k] != v}
            if changed:
                raise ValueError(f"run {self.run_id}: changing param values is not allowed: {changed}")
            con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                            [(k, v, self.run_id) for k, v in items.items() if k not in old])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        clean = {k: str(v)[:MAX_TAG_VALUE] for k, v in tags.items() if v is not None}
        with self._transaction() as con:
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?) "
                            "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value",
                            [(k, v, self.run_id) for k, v in clean.items()])
            if "mlflow.runName" in clean:
                con.execute("UPDATE runs SET name = ? WHERE run_uuid = ?", (clean["mlflow.runName"], self.run_id))

    def _dest(self, artifact_path: str | None) -> Path:
        dest = self.artifact_dir / artifact_path if artifact_path else self.artifact_dir
        dest.mkdir(parents=True, exist_ok=True)
        return dest

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        path = Path(path)
        if path.is_dir():  # as mlflow.log_artifacts: the folder's contents go under artifact_path
            shutil.copytree(path, self._dest(artifact_path), dirs_exist_ok=True)
        elif path.exists():
            shutil.copy2(path, self._dest(artifact_path) / path.name)

    def _file(self, name: str) -> Path:
        parent, _, base = name.rpartition("/")
        return self._dest(parent or None) / base

    def log_dict(self, data: Any, name: str) -> None:
        with open(self._file(name), "w") as fh:
            if name.endswith((".yml", ".yaml")):
                import yaml

                yaml.dump(data, fh, indent=2, default_flow_style=False)
            else:
                json.dump(data, fh, indent=2, default=str)

    def log_figure(self, figure: Any, name: str) -> None:
        if hasattr(figure, "savefig"):
            figure.savefig(self._file(name))
        elif hasattr(figure, "write_html") and name.endswith(".html"):
            figure.write_html(self._file(name))
        else:
            figure.write_image(self._file(name))

    def end(self, status: str) -> None:
        with self._transaction() as con:
            con.execute("UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?", (status, _now_ms(), self.run_id))
        self._con.close()


def running_runs(db: Path, experiment_id: str, job: str) -> list[tuple[str, dict[str, str]]]:
    """(run id, tags) of the experiment's RUNNING runs whose ``job`` tag is ``job``."""
    con = _connect(db)
    try:
        ids = [r[0] for r in con.execute(
            "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'job' "
            "WHERE r.experiment_id = ? AND r.status = 'RUNNING' AND r.lifecycle_stage = 'active' AND t.value = ?",
            (int(experiment_id), job))]
        return [(i, dict(con.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (i,)).fetchall())) for i in ids]
    finally:
        con.close()


def terminate(db: Path, run_id: str, reason: str) -> None:
    """Mark a dead job's run KILLED with its ``killed_reason`` tag (as MlflowClient.set_terminated)."""
    con = _connect(db)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('killed_reason', ?, ?) "
                    "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value", (reason, run_id))
        con.execute("UPDATE runs SET status = 'KILLED', end_time = ? WHERE run_uuid = ?", (_now_ms(), run_id))
        con.execute("COMMIT")
    finally:
        con.close()
