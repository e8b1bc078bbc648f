"""Progress reporting for every stage: a tqdm bar on a terminal, plain dated lines in a log file.

Why: Snakemake and DVC send a stage's stderr to a log file, where tqdm's carriage-return redraws pile up
into one huge line. Off a terminal, `progress` writes one readable line per 10 % (and at least one every
`interval` seconds), plus a final line: "synthesize: 144/288 clip (50%) 6.1 s elapsed, 23.6 clip/s, ETA 6.1 s".
"""

from __future__ import annotations

import sys
import time
from typing import IO, Iterable, Iterator


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d} min" if m < 60 else f"{m // 60}:{m % 60:02d}:{s:02d} h"


def _amount(n: float, scale: bool) -> str:
    if not scale:
        return f"{n:g}" if isinstance(n, float) else str(n)
    for unit in ("", "k", "M", "G", "T"):
        if abs(n) < 1000:
            return f"{n:.1f}{unit}" if unit else f"{n:g}"
        n /= 1000
    return f"{n:.1f}P"


class LineProgress:
    """tqdm's subset the stages use (update, set_postfix, close, iteration, context manager), as lines."""

    def __init__(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, file: IO | None = None, unit_scale: bool = False,
                 interval: float = 30.0, clock=time.monotonic, disable: bool = False):  # fmt: skip
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n = self.start_n = initial
        self.file = file or sys.stderr
        self.unit_scale, self.interval, self.clock = unit_scale, interval, clock
        self.t0 = self.last = clock()
        self.last_decile = self._decile()
        self.postfix = ""
        self.closed = disable  # a disabled bar never writes

    def _decile(self) -> int:
        return int(10 * self.n / self.total) if self.total else 0

    def line(self) -> str:
        elapsed = self.clock() - self.t0
        done = _amount(self.n, self.unit_scale)
        text = f"{self.desc}: {done}" if self.desc else done
        if self.total:
            text += f"/{_amount(self.total, self.unit_scale)} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            text += f" {self.unit}"
        text += f" {_duration(elapsed)} elapsed"
        rate = (self.n - self.start_n) / elapsed if elapsed > 0 else 0.0
        if rate > 0:
            text += f", {_amount(rate, self.unit_scale) if self.unit_scale else f'{rate:.3g}'} {self.unit}/s"
            if self.total and self.n < self.total:
                text += f", ETA {_duration((self.total - self.n) / rate)}"
        return text + (f", {self.postfix}" if self.postfix else "")

    def _emit(self) -> None:
        print(self.line(), file=self.file, flush=True)
        self.last = self.clock()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.closed:
            return
        decile = self._decile()
        if decile > self.last_decile or self.clock() - self.last >= self.interval:
            self.last_decile = decile
            if not (self.total and self.n >= self.total):  # the final line comes from close()
                self._emit()

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._emit()

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             initial: int = 0, file: IO | None = None, unit_scale: bool = False, leave: bool = True,
             disable: bool = False):
    """A tqdm bar when `file` (default stderr) is a terminal, else a :class:`LineProgress`."""
    stream = file or sys.stderr
    if not disable and getattr(stream, "isatty", lambda: False)():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, file=stream,
                    unit_scale=unit_scale, leave=leave, dynamic_ncols=True)  # fmt: skip
    return LineProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, file=stream,
                        unit_scale=unit_scale, disable=disable)  # fmt: skip
