"""The embedded synthetic audio-visual corpus (stage `synthesize`): eSpeak NG speech + a talking face.

Importing this package is cheap; `run_synth` imports numpy/OpenCV/scipy/eSpeak NG only when called.
See `pipeline.run_synth` and the README.md it writes for the output format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["run_synth"]


def run_synth(params: Any, output: Path, run: Any = None, threads: int = 1) -> dict:
    """Generate (or resume) the corpus in ``output`` from ``params.synth`` and ``params.study.seed``."""
    from avssl.data.synth.pipeline import run_synth as _run_synth

    return _run_synth(params, output, run=run, threads=threads)
