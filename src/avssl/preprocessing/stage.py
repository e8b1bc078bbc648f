"""run_preprocess: plan shards, process pending ones in parallel, merge, check the reject rate."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from avssl.preprocessing.errors import ClipRejected, PreprocessError

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


def _write_plan(out: Path, plan: dict) -> None:
    path = out / "plan.json"
    text = json.dumps(plan, indent=1, sort_keys=True)
    if path.is_file() and path.read_text() != text:
        old = json.loads(path.read_text())
        what = "params" if old.get("params") != plan["params"] else "input clips"
        raise PreprocessError(
            f"{out} holds shards made with different {what}; use a new output folder or delete this one"
        )
    tmp = out / f".plan.json.{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, path)


def run_preprocess(params, input_dir: Path, output_dir: Path, run=None, threads: int = 1,
                   shard_group: tuple[int, int] | None = None) -> dict:
    """Stage `preprocess`. Returns metrics; raises PreprocessError (after writing) above max_reject_rate.

    `shard_group=(i, n)` processes only shards with index % n == i and does not merge (run
    :func:`avssl.preprocessing.merge_shards` once all groups are done).
    """
    from tqdm import tqdm

    from avssl.preprocessing.discover import discover
    from avssl.preprocessing.merge import merge_shards
    from avssl.preprocessing.shards import REJECT_FIELDS, ShardWriter, partition, shard_name, write_csv

    pp = params.preprocess
    input_dir, out = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise PreprocessError(f"input folder {input_dir} does not exist")
    if shard_group is not None and not (0 <= shard_group[0] < shard_group[1]):
        raise PreprocessError(f"shard_group {shard_group}: need 0 <= i < n")
    if pp.locator == "landmarks":
        from avssl.preprocessing.landmarks import load_align

        load_align()  # fail early, before any work, if the backend is missing
    t0 = time.perf_counter()
    try:
        clips, discovery_rejects = discover(input_dir, pp.require_metadata)
    except ValueError as exc:
        raise PreprocessError(str(exc)) from exc
    by_id = {c.clip_id: c for c in clips}
    groups = partition(list(by_id), pp.clips_per_shard)
    (out / "shards").mkdir(parents=True, exist_ok=True)
    _write_plan(out, {"format": 1, "params": pp.model_dump(), "shards": groups})
    write_csv(out / "discovery_rejects.csv", discovery_rejects, REJECT_FIELDS)

    mine = [i for i in range(len(groups)) if shard_group is None or i % shard_group[1] == shard_group[0]]
    pending = [i for i in mine if not (out / "shards" / shard_name(i)).is_dir()]
    todo = [(i, by_id[c]) for i in pending for c in groups[i]]
    frames = 0
    bar = tqdm(total=len(todo), desc="preprocess", unit="clip", file=sys.stderr, disable=not todo)
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
    wall = time.perf_counter() - t0
    metrics = {
        "n_shards": len(groups),
        "n_shards_processed": len(pending),
        "n_shards_skipped": len(mine) - len(pending),
        "frames_processed": frames,
        "wall_s": wall,
        "frames_per_second": frames / wall if wall > 0 else 0.0,
        "frames_per_second_per_core": frames / wall / max(1, threads) if wall > 0 else 0.0,
    }
    if shard_group is None:
        metrics.update(merge_shards(out))
    if run is not None:
        run.log_metrics(metrics)
        if shard_group is None:
            for name in ("index.csv", "rejects.csv"):
                run.log_artifact(out / name)
    if shard_group is None and metrics["reject_rate"] > pp.max_reject_rate:
        raise PreprocessError(
            f"reject rate {metrics['reject_rate']:.1%} ({metrics['n_rejected']} of "
            f"{metrics['n_clips'] + metrics['n_rejected']} clips) exceeds preprocess.max_reject_rate "
            f"{pp.max_reject_rate:.1%}; see {out / 'rejects.csv'} (all outputs were written)"
        )
    return metrics
