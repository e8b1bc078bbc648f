"""Assemble OUT/index.csv and OUT/rejects.csv from the per-shard parts.

Run at the end of a full run, or on its own after cluster jobs processed shard groups separately.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from avssl.preprocessing.errors import PreprocessError
from avssl.preprocessing.shards import REJECT_FIELDS, read_csv, shard_name, write_csv

LEADING = ["clip_id", "split", "speaker"]


def read_plan(output_dir: Path) -> dict:
    path = Path(output_dir) / "plan.json"
    if not path.is_file():
        raise PreprocessError(f"{path} not found: run `avssl preprocess` on this output folder first")
    return json.loads(path.read_text())


def merge_shards(output_dir: Path) -> dict:
    """Write index.csv + rejects.csv from all shards of the plan; returns summary metrics.

    Raises PreprocessError naming the missing shards if any shard of the plan is not finished.
    """
    out = Path(output_dir)
    plan = read_plan(out)
    missing = [shard_name(i) for i in range(len(plan["shards"])) if not (out / "shards" / shard_name(i)).is_dir()]
    if missing:
        raise PreprocessError(
            f"cannot merge {out}: {len(missing)} of {len(plan['shards'])} shards not finished "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''})"
        )
    rows: list[dict] = []
    rejects: list[dict] = read_csv(out / "discovery_rejects.csv")
    for i in range(len(plan["shards"])):
        d = out / "shards" / shard_name(i)
        rows.extend(read_csv(d / "index.csv"))
        rejects.extend(read_csv(d / "rejects.csv"))
    fields = list(LEADING)
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    rejects.sort(key=lambda r: (r["clip_id"], r["reason"]))
    _atomic_csv(out / "index.csv", rows, fields)
    _atomic_csv(out / "rejects.csv", rejects, REJECT_FIELDS)
    return summarise(rows, rejects, plan["params"])


def summarise(rows: list[dict], rejects: list[dict], params: dict) -> dict:
    frames = sum(int(r["n_frames"]) for r in rows)
    total = len(rows) + len(rejects)
    metrics = {
        "n_clips": len(rows),
        "n_rejected": len(rejects),
        "reject_rate": len(rejects) / total if total else 0.0,
        "frames": frames,
        "seconds": frames / params["fps"],
        "n_resampled_audio": sum("audio resampled" in r.get("notes", "") for r in rows),
        "max_abs_drift_s": max((abs(float(r["drift_s"])) for r in rows), default=0.0),
    }
    for reason, n in sorted(Counter(r["reason"] for r in rejects).items()):
        metrics[f"reject_{reason}"] = n
    return metrics


def _atomic_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_csv(tmp, rows, fields)
    os.replace(tmp, path)
