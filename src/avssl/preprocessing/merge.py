"""Assemble OUT/index.csv and OUT/rejects.csv from the per-shard parts.

Run at the end of a full run, or on its own after cluster jobs processed shard groups separately:
either all groups wrote into one folder (`merge_shards`), or each group wrote its own part folder, as the
workflow does so that every job owns its outputs (`merge_parts`).
"""

from __future__ import annotations

import json
import os
import shutil
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


def merge_parts(parts: list[Path], output_dir: Path) -> dict:
    """Assemble the part folders of `avssl preprocess --shard-group I/N` jobs into one processed folder.

    Every part must hold the same plan (same input clips and params) and, between them, every shard of it.
    Shard files are hard-linked when the file system allows (no second copy of the data), copied otherwise.
    The result is built beside `output_dir` and renamed into place, so a failed merge leaves no half folder.
    """
    parts = [Path(p) for p in parts]
    if not parts:
        raise PreprocessError("merge_parts: no part folders given")
    plans = [read_plan(p) for p in parts]
    for part, plan in zip(parts[1:], plans[1:]):
        if plan != plans[0]:
            raise PreprocessError(
                f"{part}/plan.json differs from {parts[0]}/plan.json: the parts were made from different "
                "input clips or params; re-run the preprocessing jobs"
            )
    plan = plans[0]
    owner: dict[str, Path] = {}
    for part in parts:
        shard_root = part / "shards"
        for d in sorted(shard_root.iterdir()) if shard_root.is_dir() else []:
            if d.is_dir() and not d.name.startswith("."):
                owner.setdefault(d.name, part)
    missing = [shard_name(i) for i in range(len(plan["shards"])) if shard_name(i) not in owner]
    if missing:
        raise PreprocessError(
            f"cannot merge {len(parts)} parts: {len(missing)} of {len(plan['shards'])} shards not in any part "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); did every shard-group job finish?"
        )
    out = Path(output_dir)
    tmp = out.with_name(f".{out.name}.merging.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "shards").mkdir(parents=True)
        for i in range(len(plan["shards"])):
            name = shard_name(i)
            _link_tree(owner[name] / "shards" / name, tmp / "shards" / name)
        shutil.copy2(parts[0] / "plan.json", tmp / "plan.json")
        shutil.copy2(parts[0] / "discovery_rejects.csv", tmp / "discovery_rejects.csv")
        metrics = merge_shards(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {**metrics, "n_parts": len(parts), "n_shards": len(plan["shards"])}


def _link_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True)
    for item in sorted(src.iterdir()):
        if item.is_dir():
            _link_tree(item, dst / item.name)
            continue
        try:
            os.link(item, dst / item.name)
        except OSError:  # other file system, or links not allowed
            shutil.copy2(item, dst / item.name)
