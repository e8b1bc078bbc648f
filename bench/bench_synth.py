"""Synthesis speed of the embedded corpus: milliseconds per one-second clip per core (target <= 30 ms).

    python bench/bench_synth.py [--threads N] [--speakers 4 --words 12 --sentences 4]

CPU time of the whole stage (all worker processes) divided by the seconds of audio-visual material written.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--words", type=int, default=12)
    ap.add_argument("--sentences", type=int, default=4)
    args = ap.parse_args()

    from avssl.config import Params
    from avssl.data.synth import run_synth

    params = Params.model_validate({"synth": {
        "n_speakers": args.speakers, "n_val_speakers": 1, "n_test_speakers": 1, "words_per_speaker": args.words,
        "sentences_per_speaker": args.sentences, "vocabulary_size": 30}})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        c0, t0 = cpu_seconds(), time.perf_counter()
        m = run_synth(params, Path(tmp) / "synth", threads=args.threads)
        cpu, wall = cpu_seconds() - c0, time.perf_counter() - t0
    seconds = m["total_seconds"]
    print(f"{m['n_clips']} clips, {seconds:.0f} s of audio-video in {wall:.1f} s wall ({args.threads} thread(s)); "
          f"{1000 * cpu / seconds:.1f} ms CPU per one-second clip per core (target <= 30 ms)")


if __name__ == "__main__":
    main()
