"""Assemble OUT/index.csv and OUT/rejects.csv from the per-shard parts.

Run at the end of a full run, or on its own after cluster jobs processed shard groups separately:
either all groups wrote into one folder (`merge_shards`), or each group wrote its own part folder, as the
workflow does so that every job owns its outputs (`merge_parts`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

from avssl.preprocessing.errors import PreprocessError
from avssl.preprocessing.shards import REJECT_FIELDS, read_csv, shard_name, write_csv

LEADING = ["clip_id", "split", "speaker"]
# Written into every processed folder this program creates; only such a folder (or an empty one) may ever be
# replaced, and only when it holds nothing but what this program writes there.
OWNER_MARKER = ".avssl-processed"
OWN_ENTRIES = {OWNER_MARKER, "plan.json", "shards", "index.csv", "rejects.csv", "discovery_rejects.csv",
               "unused_files.csv"}
_OWN_TMP = re.compile(r"^\..+\.\d+\.tmp$")  # _atomic_csv / _write_plan leftovers of a killed run


def mark_created(output_dir: Path) -> None:
    """Record that ``output_dir`` was created by avssl (call only for a folder that was absent or empty)."""
    (Path(output_dir) / OWNER_MARKER).write_text(
        "Created by `avssl preprocess`. A later merge may replace this folder as long as it holds only the\n"
        "files avssl writes here; anything else put here stops the merge instead of being deleted.\n"
    )


def check_replaceable(out: Path, parts: list[Path]) -> None:
    """Raise PreprocessError unless ``out`` may be (re)placed by a merge of ``parts`` without losing anything.

    Allowed: ``out`` absent, an empty folder, or a folder with :data:`OWNER_MARKER` holding only the entries
    this program writes. Never: ``out`` equal to, inside, or containing a part folder (the merge reads them).
    """
    out = Path(out)
    target = out.resolve()
    for part in parts:
        src = Path(part).resolve()
        if target == src or target in src.parents or src in target.parents:
            raise PreprocessError(
                f"--output {out} overlaps the part folder {part} (equal to it, inside it, or containing it): "
                "merging there would destroy its input. Choose a separate output folder, e.g. data/processed"
            )
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir() or out.is_symlink():
        raise PreprocessError(f"--output {out} exists and is not a folder (a file or a link); refusing to replace it")
    entries = sorted(e.name for e in out.iterdir())
    if not entries:
        return
    if OWNER_MARKER not in entries:
        raise PreprocessError(
            f"--output {out} is not empty and was not created by avssl (no {OWNER_MARKER} marker; it holds "
            f"{', '.join(entries[:5])}{' ...' if len(entries) > 5 else ''}); refusing to replace it. Choose a new "
            "or empty output folder, or delete this one yourself if it is really meant to go"
        )
    foreign = [name for name in entries if name not in OWN_ENTRIES and not _OWN_TMP.match(name)]
    if foreign:
        raise PreprocessError(
            f"--output {out} was created by avssl but now also holds {', '.join(foreign[:5])}"
            f"{' ...' if len(foreign) > 5 else ''}, which avssl did not write; refusing to replace it. Move "
            "those out, or choose another output folder"
        )


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
    An existing `output_dir` is replaced only under the rules of :func:`check_replaceable` (checked first).
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
    check_replaceable(out, parts)
    tmp = out.with_name(f".{out.name}.merging.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "shards").mkdir(parents=True)
        mark_created(tmp)
        for i in range(len(plan["shards"])):
            name = shard_name(i)
            _link_tree(owner[name] / "shards" / name, tmp / "shards" / name)
        shutil.copy2(parts[0] / "plan.json", tmp / "plan.json")
        shutil.copy2(parts[0] / "discovery_rejects.csv", tmp / "discovery_rejects.csv")
        if (parts[0] / "unused_files.csv").is_file():
            shutil.copy2(parts[0] / "unused_files.csv", tmp / "unused_files.csv")
        metrics = merge_shards(tmp)
        check_replaceable(out, parts)  # again: the merge took a while, someone may have put files there
        _swap_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {**metrics, "n_parts": len(parts), "n_shards": len(plan["shards"])}


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` onto ``out``; an old ``out`` (checked replaceable) is moved aside first, deleted last."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.with_name(f".{out.name}.replaced.{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        os.replace(old, out)  # put the old folder back rather than leave nothing
        raise
    shutil.rmtree(old)


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
