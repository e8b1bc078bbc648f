"""End-to-end preprocess throughput (video frames per second per core).

    PYTHONPATH=src .venv/bin/python bench/bench_preprocess.py [--input DIR] [--threads N] [--clips 8 --frames 100]

Without --input it writes a small corpus of astronaut-face clips (224x224 mp4v, 25 fps) to a temp folder.
Target: >= 250 frames/s per core.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--frames", type=int, default=100)
    args = ap.parse_args()

    from avssl.config import Params
    from avssl.preprocessing import run_preprocess

    with tempfile.TemporaryDirectory() as tmp:
        src = args.input
        if src is None:
            from test_preprocess_media import make_corpus

            src = Path(tmp) / "in"
            make_corpus(src, args.clips, n_frames=args.frames)
        c0 = cpu_seconds()
        m = run_preprocess(Params(), src, Path(tmp) / "out", threads=args.threads)
        cpu = cpu_seconds() - c0
    print(f"clips {m['n_clips']} (rejected {m['n_rejected']}), frames {m['frames_processed']}, "
          f"wall {m['wall_s']:.2f} s, threads {args.threads}")
    print(f"frames_per_second {m['frames_per_second']:.0f}, per core {m['frames_per_second_per_core']:.0f} "
          f"(wall clock; shared machines under-report)")
    print(f"frames per CPU-second {m['frames_processed'] / cpu:.0f} (target >= 250 per core)")


def cpu_seconds() -> float:
    """User+system CPU time of this process and its finished children (robust to other load on the host)."""
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


if __name__ == "__main__":
    main()
