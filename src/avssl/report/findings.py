"""'What this run shows': comparisons generated from the data, each with its 95 % interval — never hand-written.

For every task (main label fraction, clean test condition, the task's main metric), each pre-trained init in
every mode it was run is compared with the supervised baseline (``scratch``) and with the references that need
no pre-training (``random`` encoder, ``nuisance`` timing + loudness cues, ``logmel`` features). A comparison is
the difference of the two rows' means (each averaged over its seeds) with a 95 % interval from a paired
bootstrap over the test clips both were scored on (:func:`avssl.tasks.uncertainty.paired_difference`); when
both rows have several seeds, the Welch t-interval over seeds is computed too and the wider of the two is kept,
so the verdict accounts for test-set sampling and for seed-to-seed variation. Verdict: *better* / *worse* when
the interval excludes zero, else *no detectable difference* (the data cannot support a ranking).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

from avssl.report.cells import t975
from avssl.registry.inits import get as get_init
from avssl.report.labels import (
    INIT_ORDER, LOWER_IS_BETTER, METRIC_LABELS, PERCENT_METRICS, main_metric, row_label, task_order,
)
from avssl.report.runs import RunRecord
from avssl.report.values import metric_value

PRETRAINED = tuple(i for i in INIT_ORDER if get_init(i).pretrained)  # in report order
REFERENCES = (("scratch", "finetuned"), ("nuisance", "frozen"), ("random", "frozen"), ("logmel", "frozen"))
TRIVIAL = ("nuisance", "random")  # rows a table note also compares against (the full list is in findings.md)
# the paper tables' own tasks (their layout); cross_paper's findings cover every registered task
TABLE_TASKS = {"emotion": ("emotion",), "affect": ("affect",), "words": ("words_audio", "words_video"),
               "raven_wer": ("asr", "vsr")}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    task: str
    metric: str
    a: tuple[str, str]  # (init, mode)
    b: tuple[str, str]
    difference: float  # in the table's units (points for percentages)
    low: float
    high: float
    n_clips: int
    n_a: int
    n_b: int
    run_ids: tuple[str, ...]

    @property
    def verdict(self) -> str:
        if self.low <= 0 <= self.high:
            return "no detectable difference"
        higher = self.low > 0
        return "better" if higher != (self.metric in LOWER_IS_BETTER) else "worse"

    def text(self, decimals: int) -> str:
        unit = " points" if self.metric in PERCENT_METRICS else ""
        a, b = row_label(*self.a, self.task), row_label(*self.b, self.task)
        return (f"{self.task} ({METRIC_LABELS[self.metric]}): {a} vs {b}: {self.difference:+.{decimals}f}{unit}, "
                f"95 % CI [{self.low:+.{decimals}f}, {self.high:+.{decimals}f}] -> {self.verdict} "
                f"(n = {self.n_a} vs {self.n_b} seed(s), {self.n_clips} test clips)")


def _welch(a: list[float], b: list[float]) -> tuple[float, float] | None:
    if len(a) < 2 or len(b) < 2:
        return None
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return (ma - mb, ma - mb)
    df = (va + vb) ** 2 / ((va**2 / (len(a) - 1)) + (vb**2 / (len(b) - 1)))
    half = t975(max(1, int(df))) * se
    return (ma - mb - half, ma - mb + half)


def compare(task: str, metric: str, a_runs: list[RunRecord], b_runs: list[RunRecord],
            rows_of: Callable[[RunRecord], list[dict] | None], scale: float) -> Finding | None:
    """One comparison, or None when a side has no per-clip predictions."""
    from avssl.tasks.uncertainty import paired_difference

    a_rows, b_rows = [rows_of(r) for r in a_runs], [rows_of(r) for r in b_runs]
    if any(r is None for r in a_rows + b_rows):
        return None
    paired = paired_difference(a_rows, b_rows, metric)
    if paired is None:
        return None
    low, high = paired["low"], paired["high"]
    def values(runs):
        return [v if (v := metric_value(r, metric)) is not None else math.nan for r in runs]

    seeds = _welch(values(a_runs), values(b_runs))
    if seeds is not None and all(math.isfinite(x) for x in seeds):
        low, high = min(low, seeds[0]), max(high, seeds[1])
    return Finding(task, metric, (a_runs[0].tag("init"), a_runs[0].tag("mode")),
                   (b_runs[0].tag("init"), b_runs[0].tag("mode")), paired["difference"] * scale, low * scale,
                   high * scale, paired["n_clips"], paired["n_a"], paired["n_b"],
                   tuple(r.run_id for r in (*a_runs, *b_runs)))  # fmt: skip


def build_findings(runs: Iterable[RunRecord], fraction: float, rows_of: Callable[[RunRecord], list[dict] | None],
                   scale_of: Callable[[str], float]) -> list[Finding]:
    """Every pre-trained row against every reference row present, per task and dataset (main fraction)."""
    groups: dict[tuple, list[RunRecord]] = {}
    for r in runs:
        if abs(r.fraction - fraction) < 1e-9:
            groups.setdefault((r.tag("task"), r.tag("dataset"), r.tag("init"), r.tag("mode")), []).append(r)
    out = []
    for (task, ds, init, mode), a_runs in sorted(groups.items(), key=lambda kv: _order(kv[0])):
        if init not in PRETRAINED:
            continue
        metric = main_metric(task)
        for ref in REFERENCES:
            b_runs = groups.get((task, ds, *ref))
            if b_runs:
                found = compare(task, metric, sorted(a_runs, key=lambda r: r.seed), sorted(b_runs, key=lambda r: r.seed),
                                rows_of, scale_of(metric))  # fmt: skip
                if found is not None:
                    out.append(found)
    return out


def _order(key: tuple) -> tuple:
    task, ds, init, mode = key
    order = task_order()
    return (order.index(task) if task in order else 99, ds,
            PRETRAINED.index(init) if init in PRETRAINED else -1, mode)  # fmt: skip


def table_lines(findings: list[Finding], table: str, digits: Callable[[str], int]) -> list[str]:
    """The 'what this run shows' notes of one paper table: its tasks, against scratch and the trivial rows."""
    tasks = tuple(task_order()) if table == "cross_paper" else TABLE_TASKS.get(table, ())
    keep = [f for f in findings if f.task in tasks and (f.b[0] == "scratch" or f.b[0] in TRIVIAL)]
    return [f"What this run shows: {f.text(digits(f.metric))}." for f in keep]


def findings_markdown(findings: list[Finding], digits: Callable[[str], int]) -> str:
    lines = ["# What this run shows", "",
             "Generated by `avssl report` from the evaluation runs in MLflow (main label fraction, clean test "
             "condition, main metric). " + (__doc__.split("\n\n", 1)[1].split("\n\n")[0].replace("\n", " ")), ""]  # fmt: skip
    if not findings:
        lines.append("No comparison could be computed (no pre-trained row with a reference row on the same task, "
                     "or no per-clip predictions logged).")
    for f in findings:
        lines.append(f"- {f.text(digits(f.metric))}. Runs: " + ", ".join(f"`{i}`" for i in f.run_ids))
    return "\n".join(lines) + "\n"
