"""GRU training-step cost on CPU: torch.nn.GRU (packed) against avssl.models.gru.run_gru, interleaved.

    python bench/bench_gru.py            # the default preset's emotion head and Shukla encoder GRU shapes

Prints milliseconds per forward+backward (median of interleaved repeats, 1 thread) and the ratio ours / torch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from avssl.models.gru import _run_module, run_gru

# (name, batch, frames, input, hidden, layers, bidirectional): default-preset shapes (params.yaml)
SHAPES = [
    ("emotion head (BiGRU 64)", 8, 100, 64, 64, 2, True),
    ("words head (BiGRU 64)", 8, 29, 64, 64, 2, True),
    ("affect head (BiGRU 32)", 8, 100, 64, 32, 2, True),
    ("Shukla encoder GRU", 8, 25, 64, 64, 2, False),
    ("paper head (BiGRU 256, batch 32)", 32, 75, 256, 256, 2, True),
]


def step_ms(fn, gru, x, mask) -> float:
    t0 = time.perf_counter()
    gru.zero_grad()
    fn(gru, x, mask).sum().backward()
    return (time.perf_counter() - t0) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'shape':36s} {'torch ms':>9s} {'ours ms':>9s} {'ratio':>6s}")
    for name, batch, frames, inp, hidden, layers, bidir in SHAPES:
        torch.manual_seed(0)
        gru = nn.GRU(inp, hidden, num_layers=layers, batch_first=True, bidirectional=bidir)
        x = torch.randn(batch, frames, inp)
        lengths = torch.randint(frames * 3 // 4, frames + 1, (batch,))
        mask = torch.arange(frames)[None, :] >= lengths[:, None]
        theirs, ours = [], []
        for _ in range(args.repeats):
            theirs.append(step_ms(_run_module, gru, x, mask))
            ours.append(step_ms(run_gru, gru, x, mask))
        t, o = statistics.median(theirs[2:]), statistics.median(ours[2:])
        print(f"{name:36s} {t:9.2f} {o:9.2f} {o / t:6.2f}")


if __name__ == "__main__":
    main()
