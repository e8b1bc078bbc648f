"""`avssl reproduce RUN_ID`: re-execute the stage behind any MLflow run and compare the metrics.

Policy (documented in the README): refuse when the checked-out code is not the run's recorded commit or has
uncommitted changes (check the commit out, ideally in a clean `git worktree`, and re-run), and refuse when the
input data no longer hash to the recorded `input_hash`. Otherwise the stage's recorded command line runs
again with the run's recorded params (params.resolved.json) into a scratch output folder; the new run is
tagged `reproduces=<RUN_ID>`, and the recorded and new metrics are printed side by side with the case: identical
(same hardware and software), within the recorded 95 % interval over test clips (another machine), or outside it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from avssl.tracking.metric_keys import CI95_PREFIX, ci95_key
from avssl.tracking.provenance import fingerprint_dir, git_state
from avssl.tracking.store import open_existing_store, resolve_uri

VOLATILE = ("perf/", "seconds", "frames_per_s", "epoch_s", "step_s", "ms_per", "per_second", "fps")


class ReproduceError(RuntimeError):
    """The run cannot be reproduced here; the message says why and what to do."""


def _volatile(key: str) -> bool:
    return any(v in key for v in VOLATILE)


def _rewrite(argv: list[str], params_file: str, output: Path) -> list[str]:
    """The recorded avssl argv with the recorded params and a scratch output (+ metrics) path."""
    out, i = [], 0
    first_params = True
    while i < len(argv):
        arg = argv[i]
        if arg == "--params":
            if first_params:
                out += ["--params", params_file]
                first_params = False
            i += 2
            continue
        if arg == "--set":
            i += 2  # already inside the recorded params
            continue
        if arg == "--output":
            out += ["--output", str(output)]
            i += 2
            continue
        if arg == "--metrics":
            out += ["--metrics", str(output / "stage_metrics.json")]
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def _value(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv and argv.index(flag) + 1 < len(argv) else None


def _require_store(uri: str, run_id: str) -> None:
    """Refuse before MLflow opens a local store that does not exist: opening it would create an empty one."""
    from urllib.parse import urlparse

    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
    elif "://" not in uri or uri.startswith("file:"):
        path = Path(urlparse(uri).path if uri.startswith("file:") else uri)
    else:
        return  # a tracking server: it answers for itself
    if not path.exists():
        raise ReproduceError(
            f"run {run_id} is unknown: there is no MLflow store at {path} (nothing was created). Run from the "
            "project folder that holds it, or pass --tracking-uri / set MLFLOW_TRACKING_URI"
        )


def reproduce(run_id: str, tracking_uri: str | None = None, output: Path | None = None,
              allow_dirty: bool = False) -> dict:
    uri = resolve_uri(tracking_uri or "sqlite:///mlflow.db")
    _require_store(uri, run_id)
    from mlflow.tracking import MlflowClient

    open_existing_store(uri)  # a moved store: point its artifact locations here (creates nothing)
    client = MlflowClient(tracking_uri=uri)
    try:
        original = client.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for unknown ids
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReproduceError(f"run {run_id} is unknown: not found in {uri} ({first})") from None
    tags = original.data.tags
    argv = shlex.split(tags.get("command", ""))
    if len(argv) < 2:
        raise ReproduceError(f"run {run_id} has no recorded command (was it logged by avssl?)")
    stage = tags.get("stage", "?")
    cwd = Path(tags.get("cwd", os.getcwd()))

    here = git_state()
    recorded = tags.get("git_commit", "unknown")
    if not allow_dirty:
        if recorded != here["git_commit"]:
            raise ReproduceError(
                f"run {run_id} ({stage}) was made with commit {recorded}; this checkout is at {here['git_commit']}. "
                f"Check it out in a clean worktree (git worktree add ../avssl-{recorded[:8]} {recorded}) and run "
                "`avssl reproduce` from there, or pass --allow-dirty to compare anyway."
            )
        if here["git_dirty"] == "true" or tags.get("git_dirty") == "true":
            raise ReproduceError(
                f"the code is not exactly the recorded commit {recorded} (uncommitted changes "
                f"{'now' if here['git_dirty'] == 'true' else 'when the run was made'}); commit or stash them, "
                "or pass --allow-dirty"
            )
    data = _value(argv, "--input")
    if data and tags.get("input_hash"):
        path = Path(data) if Path(data).is_absolute() else cwd / data
        if not path.exists():
            raise ReproduceError(f"input data {path} of run {run_id} is missing: re-create it first (snakemake)")
        now = fingerprint_dir(path)
        if now != tags["input_hash"]:
            raise ReproduceError(
                f"input data {path} changed since run {run_id}: hash {now} != recorded {tags['input_hash']}"
            )

    output = Path(output or cwd / "results" / "reproduce" / run_id).resolve()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        params_path = Path(client.download_artifacts(run_id, "params.resolved.json", tmp))
        params_yaml = output / "params.yaml"
        import yaml

        params_yaml.write_text(yaml.safe_dump(json.loads(params_path.read_text()), sort_keys=False))
    args = _rewrite(argv[1:], str(params_yaml), output)
    env = {**os.environ, "AVSSL_REPRODUCES": run_id, "MLFLOW_TRACKING_URI": uri}
    command = [sys.executable, "-m", "avssl", *args]
    print("re-running:", " ".join(shlex.quote(c) for c in command), file=sys.stderr)
    done = subprocess.run(command, cwd=cwd, env=env)
    if done.returncode != 0:
        raise ReproduceError(f"the re-run failed with exit status {done.returncode}")

    new_runs = client.search_runs([original.info.experiment_id], f"tags.reproduces = '{run_id}'",
                                  order_by=["attributes.start_time DESC"], max_results=1)  # fmt: skip
    if not new_runs:
        raise ReproduceError("the re-run logged no MLflow run")
    new = new_runs[0]
    differences = numerics_differences(tags, new.data.tags)
    print("numerics environment: " + ("same as the recorded run (bit-identical expected)" if not differences else
          "differs from the recorded run (agreement within the CI expected): " + "; ".join(differences)))
    return {**compare(original.data.metrics, new.data.metrics, run_id, new.info.run_id),
            "numerics_differences": differences}


NUMERICS_TAGS = ("cpu_model", "cpu_isa", "torch_cpu_capability", "mkl", "onednn", "torch", "torch_threads", "numpy_blas",
                 "numpy_blas_core", "numba")


def numerics_differences(recorded: dict, here: dict) -> list[str]:
    """Tags of :func:`avssl.tracking.provenance.numerics_environment` that differ between two runs."""
    return [f"{k}: {recorded.get(k, '-')} -> {here.get(k, '-')}" for k in NUMERICS_TAGS
            if recorded.get(k) and here.get(k) and recorded.get(k) != here.get(k)]  # fmt: skip


def compare(old: dict, new: dict, old_id: str, new_id: str) -> dict:
    """Print recorded vs new metrics (timings excluded) and say which case it is.

    Cases: ``identical`` (every metric equal: expected on the same hardware and software), ``within CI`` (every
    metric that differs lies inside the recorded run's 95 % interval over test clips: the cross-machine
    guarantee), ``outside CI`` (some metric lies outside it, or differs and has no recorded interval).
    Returns {"identical": bool, "case": str, "rows": [(metric, recorded, new, verdict)], "new_run_id": ...}.
    """
    keys = sorted(k for k in set(old) | set(new) if not _volatile(k) and not k.startswith(CI95_PREFIX))
    rows = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        lo, hi = old.get(ci95_key(k, "low")), old.get(ci95_key(k, "high"))
        if a == b:
            verdict = "same"
        elif a is not None and b is not None and lo is not None and hi is not None and lo <= b <= hi:
            verdict = "in CI"
        else:
            verdict = "OUTSIDE" if lo is not None else "DIFFERENT (no CI)"
        rows.append((k, a, b, verdict))
    width = max([len(k) for k in keys] + [6])
    print(f"{'metric':<{width}}  {'recorded':>14}  {'95% CI':>19}  {'re-run':>14}  verdict", file=sys.stdout)
    for k, a, b, verdict in rows:
        lo, hi = old.get(ci95_key(k, "low")), old.get(ci95_key(k, "high"))
        ci = f"[{lo:.4g}, {hi:.4g}]" if lo is not None and hi is not None else "-"
        fa = f"{a:.6g}" if a is not None else "-"
        fb = f"{b:.6g}" if b is not None else "-"
        print(f"{k:<{width}}  {fa:>14}  {ci:>19}  {fb:>14}  {verdict}", file=sys.stdout)
    identical = all(v == "same" for *_, v in rows)
    case = "identical" if identical else "within CI" if all(v in ("same", "in CI") for *_, v in rows) else "outside CI"
    print(f"\nrecorded run {old_id} vs re-run {new_id}: {case}")
    return {"identical": identical, "case": case, "rows": rows, "new_run_id": new_id}
