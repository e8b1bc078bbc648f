"""run_preprocess: find the clips (folder or dataset index), plan shards, process pending ones in parallel,
merge, check the reject rate."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from avssl.preprocessing.errors import ClipRejected, PreprocessError
from avssl.progress import progress

_WORKER: dict = {}


def _init_worker(pp_dict: dict) -> None:
    """Per-process setup: one OpenCV thread (parallelism is across processes), one locator."""
    import cv2

    from avssl.config.preprocess import PreprocessParams
    from avssl.preprocessing.locator import make_locator

    cv2.setNumThreads(1)
    pp = PreprocessParams(**pp_dict)
    _WORKER.update(params=pp, locator=make_locator(pp))


def _process(src):
    """One clip -> ("ok", ClipResult) | ("reject", row). Unexpected errors become rejects too."""
    from avssl.preprocessing.clip import process_clip

    try:
        return "ok", process_clip(src, _WORKER["params"], _WORKER["locator"])
    except ClipRejected as exc:
        return "reject", {"clip_id": src.clip_id, "reason": exc.reason, "detail": exc.detail}
    except PreprocessError:
        raise
    except Exception as exc:  # a broken clip must not take the stage down
        return "reject", {"clip_id": src.clip_id, "reason": "error", "detail": f"{type(exc).__name__}: {exc}"}


def _dataset_names() -> tuple[str, ...]:
    from avssl.config.datasets import DATASET_NAMES

    return DATASET_NAMES


def _write_plan(out: Path, plan: dict) -> None:
    path = out / "plan.json"
    text = json.dumps(plan, indent=1, sort_keys=True)
    if path.is_file() and path.read_text() != text:
        old = json.loads(path.read_text())
        what = ("params" if old.get("params") != plan["params"]
                else "input dataset" if old.get("dataset") != plan.get("dataset") else "input clips")
        raise PreprocessError(
            f"{out} holds shards made with different {what}; use a new output folder or delete this one"
        )
    tmp = out / f".plan.json.{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, path)


def _discover(pp, input_path: Path, dataset: str | None, dataset_root: Path | None,
              landmarks_dir: Path | None) -> tuple[list, list[dict], list[dict]]:
    """Clip sources, reject rows and unused-file rows: from a folder of <id>.mp4 + <id>.wav, or from a dataset's
    clip index (whose files the indexer already accounted for in its problems.csv: no unused rows)."""
    if dataset is None:
        from avssl.preprocessing.discover import discover_all

        try:
            return discover_all(input_path, pp.require_metadata)
        except ValueError as exc:
            raise PreprocessError(str(exc)) from exc
    from avssl.preprocessing.index_input import read_dataset_index

    return (*read_dataset_index(input_path, dataset, dataset_root, landmarks_dir), [])


def _report_unused(unused: list[dict], input_dir: Path, out: Path) -> None:
    """Write OUT/unused_files.csv and say on stderr how many input files the stage did not take, and why."""
    from collections import Counter

    from avssl.preprocessing.discover import UNUSED_FIELDS
    from avssl.preprocessing.shards import write_csv

    write_csv(out / "unused_files.csv", unused, UNUSED_FIELDS)
    if not unused:
        return
    kinds = Counter(r["reason"] for r in unused)
    names = ", ".join(r["file"] for r in unused[:5]) + (" ..." if len(unused) > 5 else "")
    print(f"preprocess: {len(unused)} file(s) in {input_dir} not used ({names}): "
          + "; ".join(f"{n} x {k}" for k, n in sorted(kinds.items())) + f". Listed in {out / 'unused_files.csv'}",
          file=sys.stderr)


def run_preprocess(params, input_dir: Path, output_dir: Path, *, run=None, threads: int = 1,
                   shard_group: tuple[int, int] | None = None, dataset: str | None = None,
                   dataset_root: Path | None = None, landmarks_dir: Path | None = None) -> dict:
    """Stage `preprocess`. Returns metrics; raises PreprocessError (after writing) above max_reject_rate.

    `input_dir` is a folder of <id>.mp4 + <id>.wav (+ metadata.csv). With `dataset` (a corpus name of
    avssl.data.datasets) it is instead that corpus' clip index CSV (`avssl index`), whose media paths are
    relative to `dataset_root` (default: `datasets.<dataset>_root`); see avssl.preprocessing.index_input.
    `landmarks_dir` (dataset form) holds <clip_id>.landmarks.npy for `preprocess.locator: landmarks`.
    `shard_group=(i, n)` processes only shards with index % n == i and does not merge (run
    :func:`avssl.preprocessing.merge_shards` once all groups are done).
    """
    from avssl.preprocessing.shards import shard_name

    pp = params.preprocess
    input_dir, out = Path(input_dir), Path(output_dir)
    if dataset is not None and dataset_root is None and dataset in _dataset_names():
        dataset_root = Path(params.datasets.root(dataset))
    _check_request(pp, input_dir, dataset, shard_group)
    t0 = time.perf_counter()
    clips, discovery_rejects, unused = _discover(pp, input_dir, dataset, dataset_root, landmarks_dir)
    by_id = {c.clip_id: c for c in clips}
    groups = _start_output(pp, out, list(by_id), dataset, discovery_rejects)
    _report_unused(unused, input_dir, out)

    mine = [i for i in range(len(groups)) if shard_group is None or i % shard_group[1] == shard_group[0]]
    pending = [i for i in mine if not (out / "shards" / shard_name(i)).is_dir()]
    frames = _process_shards(pp, out, [(i, by_id[c]) for i in pending for c in groups[i]], threads)
    wall = time.perf_counter() - t0
    metrics = {
        "n_shards": len(groups),
        "n_shards_processed": len(pending),
        "n_shards_skipped": len(mine) - len(pending),
        "n_unused_files": len(unused),
        "frames_processed": frames,
        "wall_s": wall,
        "frames_per_second": frames / wall if wall > 0 else 0.0,
        "frames_per_second_per_core": frames / wall / max(1, threads) if wall > 0 else 0.0,
    }
    if shard_group is None:
        from avssl.preprocessing.merge import merge_shards

        metrics.update(merge_shards(out))
    if run is not None:
        run.log_metrics(metrics)
        if shard_group is None:
            for name in ("index.csv", "rejects.csv", "unused_files.csv"):
                run.log_artifact(out / name)
    if shard_group is None:
        check_reject_rate(metrics, pp.max_reject_rate, out)
    return metrics


def _check_request(pp, input_dir: Path, dataset: str | None, shard_group: tuple[int, int] | None) -> None:
    """Refuse a missing input folder, a bad shard group or a missing landmark backend before any work."""
    if dataset is None and not input_dir.is_dir():
        raise PreprocessError(f"input folder {input_dir} does not exist")
    if shard_group is not None and not (0 <= shard_group[0] < shard_group[1]):
        raise PreprocessError(f"shard_group {shard_group}: need 0 <= i < n")
    if pp.locator == "landmarks":
        from avssl.preprocessing.landmarks import load_align

        load_align()  # fail early, before any work, if the backend is missing


def _start_output(pp, out: Path, clip_ids: list[str], dataset: str | None, discovery_rejects: list[dict]) -> list:
    """Partition the clips into shards and write OUT/plan.json (refusing a folder planned otherwise) and
    OUT/discovery_rejects.csv; returns the shards' clip-id groups."""
    from avssl.preprocessing.merge import mark_created
    from avssl.preprocessing.shards import REJECT_FIELDS, partition, write_csv

    groups = partition(clip_ids, pp.clips_per_shard)
    fresh = not out.exists() or (out.is_dir() and not any(out.iterdir()))
    (out / "shards").mkdir(parents=True, exist_ok=True)
    if fresh:  # only a folder we created (or found empty) is ours to replace later (see merge.check_replaceable)
        mark_created(out)
    plan = {"format": 1, "params": pp.model_dump(exclude={"shard_groups"}), "shards": groups}
    if dataset is not None:  # the folder form's plan.json stays as it was
        plan["dataset"] = dataset
    _write_plan(out, plan)
    write_csv(out / "discovery_rejects.csv", discovery_rejects, REJECT_FIELDS)
    return groups


def _process_shards(pp, out: Path, todo: list[tuple[int, object]], threads: int) -> int:
    """Process ``todo`` ((shard index, clip source) in shard order) on ``threads`` processes; each shard is
    committed when its last clip is in (an interrupted shard is discarded). Returns the frames kept."""
    from avssl.preprocessing.shards import ShardWriter

    frames = 0
    bar = progress(total=len(todo), desc="preprocess", unit="clip", disable=not todo)
    pool, writer = None, None
    try:
        if threads > 1 and len(todo) > 1:
            import multiprocessing as mp

            pool = mp.get_context("spawn").Pool(threads, _init_worker, (pp.model_dump(),))
            results = pool.imap(_process, [src for _, src in todo], chunksize=1)
        else:
            _init_worker(pp.model_dump())
            results = (_process(src) for _, src in todo)
        current = None
        for (shard_i, _), (status, payload) in zip(todo, results):
            if shard_i != current:
                if writer is not None:
                    writer.commit()
                writer, current = ShardWriter(out / "shards", shard_i, pp), shard_i
            if status == "ok":
                writer.add(payload)
                frames += len(payload.video)
            else:
                writer.reject(payload)
            bar.update(1)
        if writer is not None:
            writer.commit()
            writer = None
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        if writer is not None:
            writer.abort()
    return frames


def run_merge_parts(params, parts: list[Path], output_dir: Path, run=None) -> dict:
    """Stage `preprocess` after scale-out: merge the shard-group part folders, then check the reject rate."""
    from avssl.preprocessing.merge import merge_parts

    out = Path(output_dir)
    metrics = merge_parts(parts, out)
    if run is not None:
        run.log_metrics(metrics)
        for name in ("index.csv", "rejects.csv"):
            run.log_artifact(out / name)
    check_reject_rate(metrics, params.preprocess.max_reject_rate, out)
    return metrics


def check_reject_rate(metrics: dict, max_rate: float, out: Path) -> None:
    """Fail loudly (everything is already written) when too many clips were rejected."""
    if metrics["reject_rate"] > max_rate:
        raise PreprocessError(
            f"reject rate {metrics['reject_rate']:.1%} ({metrics['n_rejected']} of "
            f"{metrics['n_clips'] + metrics['n_rejected']} clips) exceeds preprocess.max_reject_rate "
            f"{max_rate:.1%}; see {out / 'rejects.csv'} (all outputs were written)"
        )
