"""Close the MLflow runs of jobs that died without saying so (SIGKILL, node loss, OOM killer).

A killed process never reaches MLflow's end-of-run call, so its run would stay RUNNING forever. When the same
job (tag ``job``: run name, working folder and output) starts again, its earlier runs still RUNNING are
marked KILLED with a ``killed_reason`` tag, unless they are on this host and their process is still alive
(then they are left alone: a second live copy is not ours to judge). On another host the pid cannot be
checked; Snakemake's output locks mean no two live jobs write one output, so such a run is dead too.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError, OverflowError):
        return True  # PermissionError: it exists under another user; bad value: do not judge
    return True


def stale_reason(tags: dict[str, str], job: str) -> str | None:
    """Why a RUNNING run of ``job`` is dead (its ``killed_reason``), or None when it may still be alive."""
    if tags.get("job") != job:
        return None
    host = platform.node()
    # Our own pid: the dead process had it before us (pids are reused, e.g. in a fresh container).
    if tags.get("host") == host and tags.get("pid") and tags["pid"] != str(os.getpid()) and _alive(tags["pid"]):
        return None
    where = f"process {tags.get('pid', '?')} on {tags.get('host', '?')}"
    return (f"{where} no longer exists" if tags.get("host") == host
            else f"{where} (another host) left it RUNNING") + "; closed when the job was re-run"


def close_stale_runs(client: Any, experiment_id: str, job: str) -> list[str]:
    """Mark this job's earlier RUNNING runs whose process is gone as KILLED; returns their ids."""
    # MLflow's filter strings have no escapes: quote with whichever quote the value lacks (a path may hold one).
    quote = next((q for q in "'\"" if q not in job), None)
    match = f" and tags.job = {quote}{job}{quote}" if quote else ""
    runs = client.search_runs([experiment_id], "attributes.status = 'RUNNING'" + match, max_results=1000)
    closed = []
    for run in runs:
        reason = stale_reason(run.data.tags, job)
        if reason is None:
            continue
        client.set_tag(run.info.run_id, "killed_reason", reason)
        client.set_terminated(run.info.run_id, status="KILLED", end_time=int(time.time() * 1000))
        closed.append(run.info.run_id)
    return closed
