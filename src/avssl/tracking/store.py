"""Where runs go, creating a fresh sqlite store exactly once, and keeping a moved store's artifacts reachable.

Several processes creating a fresh MLflow sqlite store at once crash in its schema migration, so the first
creation happens under an exclusive file lock; afterwards concurrent writers are fine.

MLflow records artifact locations as absolute ``file:///…/mlartifacts/…`` URIs (it resolves any local path,
relative ones included, when an experiment is created), so a store folder (``mlflow.db`` + ``mlartifacts/``)
that is copied or moved would point at its old place. The ``mlflow.db.ready`` marker holds the folder the
locations were written for; when a store is opened from elsewhere (or the marker is missing), the locations
under the old ``…/mlartifacts`` are rewritten to the store's own folder, once, under the same lock. Opening an
unmoved store costs one small file read. ``python -m avssl.tracking.store mlflow.db`` does it by hand
(before `mlflow ui` on a store no avssl command has opened since it moved).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sqlite3
import sys
from pathlib import Path

PREFIX = "sqlite:///"
ARTIFACTS = "mlartifacts"
STORE_DIRS = frozenset({ARTIFACTS, "mlruns"})


def is_store_entry(name: str) -> bool:
    """A file or folder name of an MLflow store (ours or MLflow's default): never data, never an input.

    ``mlflow.db`` with its ``.ready``/``.lock`` files and SQLite's ``-journal``/``-wal``/``-shm``; the
    ``mlartifacts/`` and ``mlruns/`` folders. Stages run by hand inside a dataset folder leave them there.
    """
    return name in STORE_DIRS or name.startswith("mlflow.db")


def resolve_uri(configured: str) -> str:
    """MLFLOW_TRACKING_URI wins over params; relative sqlite paths become absolute (jobs may chdir)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    if uri.startswith(PREFIX) and not uri[len(PREFIX) :].startswith("/"):
        uri = PREFIX + str(Path(uri[len(PREFIX) :]).resolve())
    return uri


def _db(uri: str) -> Path | None:
    return Path(uri[len(PREFIX) :]) if uri.startswith(PREFIX) else None


def _marker(db: Path) -> Path:
    return db.with_name(db.name + ".ready")


def _placed(db: Path) -> bool:
    """The store exists, is migrated, and its artifact locations were written for this folder."""
    try:
        return db.exists() and _marker(db).read_text().strip() == db.parent.resolve().as_uri()
    except OSError:
        return False


def ensure_store(uri: str) -> None:
    """Create (migrate) the sqlite store once and relocate a moved one, serialised by a lock file next to it."""
    db = _db(uri)
    if db is None or _placed(db):
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _placed(db):
            return
        if not db.exists() or not _marker(db).exists():
            from mlflow.tracking import MlflowClient

            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
        relocate(db)
        _marker(db).write_text(db.parent.resolve().as_uri() + "\n")


def open_existing_store(uri: str) -> None:
    """For readers (report, reproduce): relocate a moved store, but never create one."""
    db = _db(uri)
    if db is not None and db.is_file():
        try:
            ensure_store(uri)
        except (OSError, sqlite3.Error) as exc:  # e.g. a read-only copy: still readable, artifacts maybe not
            print(f"avssl: {db}: could not update the artifact locations of a moved store: {exc}", file=sys.stderr)


def relocate(db: Path) -> int:
    """Point every artifact location under an old ``…/mlartifacts`` at ``<db folder>/mlartifacts``.

    Only experiments whose location ends in ``/mlartifacts`` (the layout avssl creates) are touched, with
    their runs and logged models. Returns the number of rows rewritten.
    """
    new_root = (db.parent.resolve() / ARTIFACTS).as_uri()
    con = sqlite3.connect(db, timeout=60)
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "experiments" not in tables:
            return 0
        olds = {loc for (loc,) in con.execute("SELECT artifact_location FROM experiments")
                if loc and loc.startswith("file://") and loc.endswith("/" + ARTIFACTS) and loc != new_root}
        columns = [("experiments", "artifact_location"), ("runs", "artifact_uri")]
        if "logged_models" in tables:
            columns.append(("logged_models", "artifact_location"))
        changed = 0
        with con:
            for old in olds:
                for table, column in columns:
                    if table not in tables:
                        continue
                    changed += con.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                        f"WHERE substr({column}, 1, ?) = ? AND (length({column}) = ? OR substr({column}, ?, 1) = '/')",
                        (new_root, len(old) + 1, len(old), old, len(old), len(old) + 1),
                    ).rowcount
        return changed
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description="Point a moved or copied MLflow sqlite store at its own mlartifacts/.")
    ap.add_argument("db", type=Path, help="the store's mlflow.db (mlartifacts/ lies beside it)")
    args = ap.parse_args()
    if not args.db.is_file():
        raise SystemExit(f"{args.db}: no such store")
    _marker(args.db).unlink(missing_ok=True)
    ensure_store(PREFIX + str(args.db.resolve()))
    print(f"{args.db}: artifact locations now under {(args.db.parent.resolve() / ARTIFACTS).as_uri()}")


if __name__ == "__main__":
    main()
