"""Progress off a terminal (a stage's log file): plain lines, not carriage-return redraws."""

from __future__ import annotations

import io

from avssl.progress import LineProgress, progress


def test_log_file_gets_one_line_per_tenth_and_a_final_line():
    clock = [0.0]
    log = io.StringIO()
    bar = progress(total=288, desc="synthesize", unit="clip", file=log)
    assert isinstance(bar, LineProgress)
    bar.clock = lambda: clock[0]
    bar.t0 = bar.last = 0.0
    for _ in range(288):
        clock[0] += 0.05
        bar.update()
    bar.close()
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 10
    assert lines[4] == "synthesize: 144/288 clip (50%) 7.2 s elapsed, 20 clip/s, ETA 7.2 s"
    assert lines[-1].startswith("synthesize: 288/288 clip (100%) 14.4 s elapsed")


def test_slow_loops_still_report_every_interval_and_iterables_close():
    clock = [0.0]
    log = io.StringIO()
    bar = LineProgress(total=1000, desc="train", unit="step", file=log, interval=30, clock=lambda: clock[0])
    bar.set_postfix(loss="0.5000")
    for _ in range(3):
        clock[0] += 31
        bar.update()
    assert len(log.getvalue().splitlines()) == 3 and log.getvalue().rstrip().endswith("loss=0.5000")
    log = io.StringIO()
    assert list(progress(range(4), desc="encode", unit="batch", file=log)) == [0, 1, 2, 3]
    assert log.getvalue().splitlines()[-1].startswith("encode: 4/4 batch (100%)")
    log = io.StringIO()
    silent = progress(total=0, desc="preprocess", file=log, disable=True)
    silent.update()
    silent.close()
    assert log.getvalue() == ""
