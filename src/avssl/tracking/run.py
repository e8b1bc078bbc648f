"""MLflow run per stage execution, with the provenance a table cell needs to be re-run.

Tags on every run: stage, dataset, method/task where relevant, seed, git commit and dirtiness, the hash of
the stage's input data, torch/CUDA versions, host, pid, and the exact command line. Params are the resolved
params flattened to dotted keys plus the job's own settings as ``job.*`` params (every job of a study shares
params.yaml, so without them MLflow's Compare view shows no difference between two jobs). The run name
spells the job out (``finetune-asr-raven-frozen-f0.1-s0``) so two jobs never share a name.
mlflow is imported only where needed (it costs seconds): runs in a local sqlite store are written by
:mod:`avssl.tracking.sqlite_run`, the same rows and files without the mlflow import.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from avssl.tracking.provenance import flatten, git_state, numerics_environment
from avssl.tracking.stale import close_stale_runs
from avssl.tracking.store import ensure_store, resolve_uri

EXPERIMENT_PREFIX = "avssl/"
# The settings that tell one job of a stage from another (CLI arguments, not params.yaml), in run-name order.
JOB_KEYS = ("method", "task", "init", "mode", "fraction", "seed", "dataset", "shard_group")


class NullRun:
    """Same interface as :class:`StageRun`, logs nothing. Used by unit tests and library calls."""

    run_id = None
    artifact_dir: Path | None = None

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        pass

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        pass

    def log_dict(self, data: Any, name: str) -> None:
        pass

    def log_figure(self, figure: Any, name: str) -> None:
        pass

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        pass


class StageRun(NullRun):
    """A live MLflow run. Thin wrapper so stage code stays independent of the MLflow API."""

    def __init__(self, mlflow_module: Any, run: Any):
        self._mlflow = mlflow_module
        self._run = run
        self.run_id = run.info.run_id

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None}
        if clean:
            self._mlflow.log_metrics(clean, step=step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        items = [(k, str(v)[:6000]) for k, v in flatten(params).items()]
        for start in range(0, len(items), 100):
            self._mlflow.log_params(dict(items[start : start + 100]))

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        path = Path(path)
        if path.is_dir():
            self._mlflow.log_artifacts(str(path), artifact_path=artifact_path)
        elif path.exists():
            self._mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_dict(self, data: Any, name: str) -> None:
        self._mlflow.log_dict(data, name)

    def log_figure(self, figure: Any, name: str) -> None:
        self._mlflow.log_figure(figure, name)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._mlflow.set_tags({k: str(v) for k, v in tags.items() if v is not None})


def _ensure_experiment(mlflow: Any, uri: str, name: str) -> str:
    """Create the study's experiment with its artifacts beside the sqlite store (not in each job's cwd)."""
    if mlflow.get_experiment_by_name(name) is None:
        location = None
        if uri.startswith("sqlite:///"):
            location = (Path(uri[len("sqlite:///") :]).parent.resolve() / "mlartifacts").as_uri()
        try:
            mlflow.create_experiment(name, artifact_location=location)
        except Exception:  # another job created it between our check and our create
            if mlflow.get_experiment_by_name(name) is None:
                raise
    return mlflow.set_experiment(name).experiment_id


def experiment_name(params: Any) -> str:
    return EXPERIMENT_PREFIX + params.study.name


def job_settings(stage: str, tags: Mapping[str, Any]) -> dict[str, str]:
    """The ``job.*`` params of a run: stage plus whichever of :data:`JOB_KEYS` the job has."""
    out = {"job.stage": stage}
    for key in JOB_KEYS:
        if tags.get(key) is not None:
            out[f"job.{key}"] = str(tags[key])
    return out


def job_run_name(stage: str, tags: Mapping[str, Any]) -> str:
    """Readable, one per job: ``finetune-asr-raven-frozen-f0.1-s0``, ``pretrain-raven-s0``, ``index-ravdess-s0``."""
    parts = [stage]
    for key in ("task", "init", "method", "mode"):
        value = tags.get(key)
        if value is not None and str(value) not in parts:
            parts.append(str(value))
    if tags.get("fraction") is not None:
        parts.append(f"f{tags['fraction']}")
    if tags.get("shard_group") is not None:
        parts.append(f"part{tags['shard_group']}".replace("/", "of"))
    if stage in ("preprocess", "preprocess_part", "index", "acquire"):
        if tags.get("dataset") is not None:
            parts.append(str(tags["dataset"]))
    parts.append(f"s{tags.get('seed')}")
    return "-".join(parts)


@contextlib.contextmanager
def start_stage(
    params: Any,
    stage: str,
    *,
    input_hash: str | None = None,
    tags: Mapping[str, Any] | None = None,
    run_name: str | None = None,
    enabled: bool = True,
) -> Iterator[NullRun]:
    """Open the MLflow run of one stage execution; marks it FAILED (and re-raises) on error.

    ``enabled=False`` (or AVSSL_TRACKING=0) yields a :class:`NullRun`, for library use without a store.
    """
    if not enabled or os.environ.get("AVSSL_TRACKING", "1") == "0":
        _mark_stage_start()
        yield NullRun()
        return
    uri = resolve_uri(params.tracking.uri)
    ensure_store(uri)
    all_tags = {
        "stage": stage,
        "dataset": params.study.dataset,
        "seed": params.study.seed,
        "input_hash": input_hash,
        "host": platform.node(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "cwd": os.getcwd(),
        **git_state(),
        **numerics_environment(),
        **(tags or {}),
        "reproduces": os.environ.get("AVSSL_REPRODUCES"),  # set by `avssl reproduce`
    }
    name = run_name or job_run_name(stage, all_tags)
    # The job identity a re-run shares with its killed predecessor: name, cwd and output (reproduce differs).
    all_tags["job"] = f"{name}@{os.getcwd()}:{_argv_value('--output') or ''}"
    run_params = {**params.model_dump(mode="json"), **job_settings(stage, all_tags)}
    light = _sqlite_experiment(uri, params)
    opened = _open_sqlite(uri, light, name) if light else _open_mlflow(uri, params, name, all_tags["job"])
    with opened as tracked:
        tracked.set_tags(all_tags)
        tracked.log_params(run_params)
        tracked.log_dict(params.model_dump(mode="json"), "params.resolved.json")
        _mark_stage_start()
        yield tracked
        if "torch" in sys.modules:  # the stage sets its own thread count after the run opened: record the final one
            tracked.set_tags({"torch_threads": sys.modules["torch"].get_num_threads()})


def _sqlite_experiment(uri: str, params: Any) -> tuple[str, str] | None:
    """The experiment (id, artifact location) when the light sqlite writer may log this run, else None."""
    from avssl.tracking import sqlite_run

    if not sqlite_run.usable(uri, params.tracking.system_metrics):
        return None
    return sqlite_run.find_experiment(Path(uri[len("sqlite:///") :]), experiment_name(params))


@contextlib.contextmanager
def _open_sqlite(uri: str, experiment: tuple[str, str], name: str) -> Iterator[NullRun]:
    """The run written by :mod:`avssl.tracking.sqlite_run`: FINISHED, or FAILED when the stage raised."""
    from avssl.tracking import sqlite_run
    from avssl.tracking.stale import stale_reason

    db = Path(uri[len("sqlite:///") :])
    experiment_id, location = experiment
    job = f"{name}@{os.getcwd()}:{_argv_value('--output') or ''}"
    try:
        for run_id, run_tags in sqlite_run.running_runs(db, experiment_id, job):
            reason = stale_reason(run_tags, job)
            if reason is not None:
                sqlite_run.terminate(db, run_id, reason)
    except Exception as exc:  # noqa: BLE001 - bookkeeping of older runs must never stop this job
        print(f"avssl: could not close stale runs of {name}: {exc}", file=sys.stderr)
    run = sqlite_run.SqliteRun(db, experiment_id, location, name)
    try:
        yield run
    except BaseException:
        run.end("FAILED")
        raise
    run.end("FINISHED")


@contextlib.contextmanager
def _open_mlflow(uri: str, params: Any, name: str, job: str) -> Iterator[NullRun]:
    """The run through the mlflow client: any tracking server, system metrics, first run of a new study."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment_id = _ensure_experiment(mlflow, uri, experiment_name(params))
    if params.tracking.system_metrics:
        mlflow.enable_system_metrics_logging()
    try:
        close_stale_runs(mlflow.tracking.MlflowClient(), experiment_id, job)
    except Exception as exc:  # noqa: BLE001 - bookkeeping of older runs must never stop this job
        print(f"avssl: could not close stale runs of {name}: {exc}", file=sys.stderr)
    with mlflow.start_run(run_name=name) as run:
        yield StageRun(mlflow, run)


_stage_started: list[float] = []  # time.time() when the first stage run of this process opened
_fork: dict[str, float | None] = {}  # in a job forked by avssl.forkserver: {"created": its client's start}


def set_process_created(created: float | None) -> None:
    """A forked job (avssl.forkserver) started when its client process did, not when it was forked."""
    _fork["created"] = created


def forked() -> bool:
    return bool(_fork)


def _mark_stage_start() -> None:
    if not _stage_started:
        _stage_started.append(time.time())


def startup_seconds() -> float | None:
    """Seconds from this process's creation until its stage's work began (run open), None if unknown.

    Covers interpreter start, imports (torch included), params validation, provenance and opening the run:
    what every job pays before its own work. The process start comes from /proc (Linux only); a job forked by
    :mod:`avssl.forkserver` counts from its client process's start.
    """
    from avssl.process_clock import process_created

    created = _fork["created"] if _fork else process_created()
    if not _stage_started or created is None:
        return None
    return max(0.0, _stage_started[0] - created)


def _argv_value(flag: str) -> str | None:
    argv = sys.argv
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename) so a killed job never leaves a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
