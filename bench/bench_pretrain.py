"""Seconds and peak RSS of one tiny pre-training job (the `tiny` train preset) on an in-memory corpus.

Uses the real objective when it builds (``--method raven|shukla_*``, tiny custom sizes), else the toy
objective of tests/test_training_fakes.py. Run: ``PYTHONPATH=src python bench/bench_pretrain.py``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# The training settings of a smoke run: seconds on one CPU core.
TINY = {
    "steps": 6,
    "batch_frames": 240,
    "max_frames": 25,
    "num_buckets": 2,
    "log_every": 2,
    "checkpoint_every": 3,
    "val_batches": 1,
}


def _objective(method: str):
    if method == "toy":
        from test_training_fakes import ToyObjective

        obj = ToyObjective()
        for enc in obj.encoders().values():
            enc.arch, enc.config = "toy", {}
        return obj
    if method == "raven":
        from avssl.config.raven import RavenParams
        from avssl.training.raven import build_objective

        p = RavenParams(size="custom", layers=1, adim=32, heads=2, ffn=64, frontend_width=8, predictor_layers=1,
                        predictor_width=32, predictor_heads=2, predictor_ffn=64)  # fmt: skip
        return build_objective(p)
    from avssl.training.shukla import build_objective

    return build_objective(SimpleNamespace(study=SimpleNamespace(seed=0)), method)


def main() -> None:
    from avssl.registry.inits import method_names

    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="raven", choices=[*method_names(), "toy"])
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=None)
    args = ap.parse_args()

    import torch

    import avssl.data.processed as processed
    import avssl.training.pretrain as pretrain
    from avssl.config.train import TrainParams
    from test_training_fakes import FakeProcessedDataset

    torch.set_num_threads(args.threads)
    processed.ProcessedDataset = lambda path: FakeProcessedDataset(n=args.clips, seed=0, face_hw=64)
    try:
        _objective(args.method)
        method = args.method
    except Exception as exc:  # objective not available / not buildable small: fall back to the toy
        print(f"{args.method} objective unavailable ({type(exc).__name__}: {exc}); using the toy objective")
        method = "toy"
    pretrain.build_objective = lambda params, m: _objective(method)
    train = TrainParams(**{**TINY, "device": "cpu", **({"steps": args.steps} if args.steps else {})})
    params = SimpleNamespace(study=SimpleNamespace(seed=0), train=train)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        metrics = pretrain.run_pretrain(params, "raven" if method in ("toy", "raven") else method, tmp, Path(tmp) / "out",
                                        threads=args.threads, progress=False)  # fmt: skip
        wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"method={method} steps={metrics['steps']} clips={args.clips} threads={args.threads}")
    print(f"job_seconds={wall:.2f} train_seconds={metrics['seconds']:.2f} "
          f"s_per_step={metrics['seconds'] / metrics['steps']:.3f} frames_per_s={metrics['frames_per_s']:.1f} "
          f"peak_rss_mb={rss_mb:.0f} final_loss={metrics.get('train/loss', float('nan')):.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
