"""Benchmark of the synthetic corpus generator: ms of compute per second of generated clip, per core.

Target: <= 30 ms per one-second clip per core. Prints the end-to-end number of `run_synth` (includes
process start-up, imports and face building) and the steady-state number of `make_clip` after warm-up.

    PYTHONPATH=src .venv/bin/python bench/bench_synth.py [--preset tiny|default] [--threads N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

TINY = {"n_speakers": 5, "n_val_speakers": 1, "n_test_speakers": 1, "words_per_speaker": 20, "sentences_per_speaker": 4}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=["tiny", "default"], default="tiny")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steady-clips", type=int, default=40, help="clips timed one by one after warm-up")
    args = ap.parse_args()

    from avssl.config import params_from_dict
    from avssl.data.synth import run_synth
    from avssl.data.synth.clip import make_clip
    from avssl.data.synth.plan import make_plan

    params = params_from_dict({"synth": TINY if args.preset == "tiny" else {}})
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        m = run_synth(params, Path(d) / "corpus", threads=args.threads)
        wall = time.perf_counter() - t0
        print(f"run_synth preset={args.preset} threads={args.threads}: {m['n_clips']} clips, "
              f"{m['total_seconds']:.1f} s of data in {wall:.2f} s wall -> "
              f"{m['ms_per_clip_second']:.1f} ms per clip-second per core (end to end)")  # fmt: skip

        _, clips = make_plan(params.synth, seed=1)
        out = Path(d) / "steady"
        out.mkdir()
        make_clip(clips[0], params.synth, out)  # warm-up: imports, face identity
        picked = [c for c in clips if c.speaker == clips[0].speaker][1 : 1 + args.steady_clips]
        secs, t0 = 0.0, time.perf_counter()
        for c in picked:
            secs += make_clip(c, params.synth, out)["n_frames"] / 25
        dt = time.perf_counter() - t0
        print(f"steady state (1 core, {len(picked)} clips, {secs:.1f} s of data): "
              f"{1000 * dt / secs:.1f} ms per clip-second; target <= 30")  # fmt: skip


if __name__ == "__main__":
    main()
