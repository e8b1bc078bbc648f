"""`run_synth`: plan the corpus, synthesise missing clips in parallel, write the index files.

Resumable: a clip counts as done when its npz (written last, atomically) exists and was produced with
the same generator configuration; otherwise it is (re)made. The metadata is rebuilt from the npz files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
from pathlib import Path

from avssl.data.synth.plan import ClipSpec, make_plan
from avssl.media import FPS
from avssl.progress import progress

GENERATOR_VERSION = "1"
_CLIP_FILE = re.compile(r"^s\d{2}_[ws]\d{4}\.(mp4|wav|npz)$")


def config_hash(sp, seed: int) -> str:
    """Hash of everything that determines the clips (params section, seed, generator version)."""
    blob = json.dumps({"synth": sp.model_dump(), "seed": seed, "version": GENERATOR_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)


def _work(args: tuple[ClipSpec, object, str, str]) -> dict:
    spec, sp, out_dir, chash = args
    from avssl.data.synth.clip import make_clip

    row = make_clip(spec, sp, Path(out_dir), chash)
    return row


def _done(spec: ClipSpec, out: Path, chash: str) -> dict | None:
    from avssl.data.synth.fileio import load_meta

    npz = out / f"{spec.clip_id}.npz"
    if not npz.exists() or not (out / f"{spec.clip_id}.mp4").exists() or not (out / f"{spec.clip_id}.wav").exists():
        return None
    meta = load_meta(npz)
    if meta is None or meta.get("config_hash") != chash:
        return None
    from avssl.data.synth.clip import COLUMNS

    return {k: meta["row"][k] for k in COLUMNS}


def _csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def run_synth(params, output: Path, run=None, threads: int = 1) -> dict:
    """Generate (or complete) the synthetic corpus in ``output``; returns metrics (also logged to ``run``)."""
    from avssl.data.synth.docs import readme_text, write_montage
    from avssl.data.synth.fileio import write_text

    if run is None:
        from avssl.tracking import NullRun

        run = NullRun()
    sp, seed = params.synth, params.study.seed
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    chash = config_hash(sp, seed)
    speakers, clips = make_plan(sp, seed)
    planned = {c.clip_id for c in clips}
    for f in out.iterdir():  # stale clips of an earlier, larger plan; and leftovers of a crash
        if (_CLIP_FILE.match(f.name) and f.name.rsplit(".", 1)[0] not in planned) or f.name.startswith(".tmp-"):
            f.unlink()

    t0 = time.perf_counter()
    rows: dict[str, dict] = {}
    todo = []
    for c in clips:
        row = _done(c, out, chash)
        if row is None:
            todo.append(c)
        else:
            rows[c.clip_id] = row
    todo.sort(key=lambda c: (c.kind != "sentence", c.clip_id))  # long clips first: better load balance
    tasks = [(c, sp, str(out), chash) for c in todo]
    bar = progress(total=len(clips), initial=len(rows), desc="synthesize", unit="clip")
    if threads <= 1 or len(tasks) <= 1:
        _worker_init()
        for task in tasks:
            row = _work(task)
            rows[row["clip_id"]] = row
            bar.update()
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(min(threads, len(tasks)), initializer=_worker_init) as pool:
            for row in pool.imap_unordered(_work, tasks, chunksize=1):
                rows[row["clip_id"]] = row
                bar.update()
    bar.close()
    synth_seconds = time.perf_counter() - t0

    ordered = [rows[c.clip_id] for c in sorted(clips, key=lambda c: c.clip_id)]
    write_text(out / "metadata.csv", _csv_text(ordered))
    write_text(out / "speakers.csv", _csv_text([s.row() for s in speakers]))
    write_text(out / "README.md", readme_text(sp, seed, speakers, ordered))
    montage = write_montage(out, ordered, sp.montage_clips)
    run.log_artifact(montage)

    total = sum(r["n_frames"] for r in ordered) / FPS
    made = {c.clip_id for c in todo}
    made_seconds = sum(r["n_frames"] for r in ordered if r["clip_id"] in made) / FPS
    metrics = {
        "n_clips": len(ordered),
        "n_word_clips": sum(r["kind"] == "word" for r in ordered),
        "n_sentence_clips": sum(r["kind"] == "sentence" for r in ordered),
        "n_speakers": len(speakers),
        "n_train_clips": sum(r["split"] == "train" for r in ordered),
        "n_val_clips": sum(r["split"] == "val" for r in ordered),
        "n_test_clips": sum(r["split"] == "test" for r in ordered),
        "n_generated": len(todo),
        "total_seconds": round(total, 3),
        "seconds": round(synth_seconds, 3),
        "ms_per_clip_second": round(1000 * synth_seconds * max(1, threads) / made_seconds, 2) if made_seconds else 0.0,
    }
    run.log_metrics(metrics)
    return metrics
