"""GRU training-step cost on CPU: torch.nn.GRU (packed) against avssl.models.gru.run_gru, interleaved.

    python bench/bench_gru.py                   # the default preset's emotion head and Shukla encoder GRU shapes
    python bench/bench_gru.py --against HEAD~1  # also the run_gru of another git revision (e.g. before a change)

Prints milliseconds per forward and per forward+backward (median of interleaved repeats, 1 thread) and the
ratios ours / torch (and ours / the other revision's). The other revision's gru.py is read with `git show`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

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


def step_ms(fn, gru, x, mask, backward: bool) -> float:
    t0 = time.perf_counter()
    gru.zero_grad()
    out = fn(gru, x, mask)
    if backward:
        out.sum().backward()
    return (time.perf_counter() - t0) * 1e3


def revision_run_gru(rev: str):
    """run_gru of gru.py as it is at git revision `rev` (loaded as its own module)."""
    repo = Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "show", f"{rev}:src/avssl/models/gru.py"], cwd=repo, check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    module = types.ModuleType(f"gru_at_{rev}")
    module.__file__ = f"<gru.py at {rev}>"
    sys.modules[module.__name__] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - the repository's own code
    return module.run_gru


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--against", metavar="REV", help="also time run_gru of this git revision")
    args = parser.parse_args()
    torch.set_num_threads(1)
    fns = {"torch": _run_module, "ours": run_gru}
    if args.against:
        fns[args.against] = revision_run_gru(args.against)
    header = f"{'shape':34s} {'pass':>4s}" + "".join(f" {k[:9] + ' ms':>12s}" for k in fns) + "  ours/torch"
    print(header + (f"  ours/{args.against[:9]}" if args.against else ""))
    for name, batch, frames, inp, hidden, layers, bidir in SHAPES:
        torch.manual_seed(0)
        gru = nn.GRU(inp, hidden, num_layers=layers, batch_first=True, bidirectional=bidir)
        x = torch.randn(batch, frames, inp)
        lengths = torch.randint(frames * 3 // 4, frames + 1, (batch,))
        mask = torch.arange(frames)[None, :] >= lengths[:, None]
        for backward in (False, True):
            times = {k: [] for k in fns}
            for _ in range(args.repeats + 2):
                for k, fn in fns.items():
                    with torch.set_grad_enabled(backward):
                        times[k].append(step_ms(fn, gru, x, mask, backward))
            ms = {k: statistics.median(v[2:]) for k, v in times.items()}  # the first two warm up (and compile)
            row = f"{name:34s} {'f+b' if backward else 'f':>4s}" + "".join(f" {ms[k]:12.2f}" for k in fns)
            row += f"  {ms['ours'] / ms['torch']:10.2f}"
            if args.against:
                row += f"  {ms['ours'] / ms[args.against]:{10 + len(args.against[:9])}.3f}"
            print(row)


if __name__ == "__main__":
    main()
