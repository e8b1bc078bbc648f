"""How an evaluation's metrics are named in MLflow: ``<metric>.<condition>`` (e.g. ``accuracy.clean``) and the two
ends of its 95 % interval over test clips, ``ci95_low/<metric>.<condition>`` and ``ci95_high/...``.

Why one module: the evaluation writes these keys, and the report and ``avssl reproduce`` read them back; a key
spelt differently in one of them silently drops the interval.
"""

from __future__ import annotations

CI95_PREFIX = "ci95_"
"""Every interval key starts with this (they are bounds, not metrics to compare)."""


def metric_key(metric: str, condition: str) -> str:
    """``accuracy``, ``clean`` -> ``accuracy.clean``."""
    return f"{metric}.{condition}"


def ci95_key(key: str, end: str) -> str:
    """The ``end`` ("low" or "high") of the 95 % interval over test clips of the metric ``key`` (a
    :func:`metric_key`)."""
    if end not in ("low", "high"):
        raise ValueError(f"interval end must be 'low' or 'high', got {end!r}")
    return f"{CI95_PREFIX}{end}/{key}"
