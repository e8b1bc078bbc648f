"""How sure is a metric? Percentile-bootstrap 95 % intervals over the test clips, for one run or a difference.

Why clips: the test clips are the sample a run's metric is measured on, and they are the unit that varies
(frames of one clip are not independent; an ASR clip's errors weigh with its length). Each metric is reduced to
per-clip sufficient statistics first (hits per class, CCC moments, edit counts and reference lengths), so a
resample is a sum of rows and a thousand resamples cost milliseconds.

- :func:`clip_bootstrap`: each metric's interval for one run (logged by every evaluation; what `avssl
  reproduce` compares a re-run on another machine against).
- :func:`paired_difference`: the interval of "A minus B" on the same test clips, resampling the clips once for
  both (paired), with each side averaged over its seeds; the report's "what this run shows" lines use it.

The resampling stream is fixed (``seed``), so intervals are deterministic.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from avssl.tasks import TASKS
from avssl.tasks.kinds import kind_of

N_BOOT = 1000
LEVEL = 0.95

CLASSIFICATION = ("accuracy", "uar")
REGRESSION = ("ccc_arousal", "ccc_valence", "ccc_mean")
RECOGNITION = {"wer": ("beam", "word"), "cer": ("beam", "char"), "wer_greedy_ctc": ("greedy_ctc", "word")}


def interval(samples: np.ndarray) -> list[float]:
    lo, hi = np.nanpercentile(samples, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return [float(lo), float(hi)]


def resamples(n: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """(n_boot, n) clip indices drawn with replacement from a fixed stream."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def metrics_of(task: str) -> tuple[str, ...]:
    """The metrics a run's bootstrap intervals are computed for (its kind's, see avssl.tasks.kinds)."""
    return kind_of(task).interval_metrics(TASKS[task])


# ------------------------------------------------------------------------- per-clip sufficient statistics


def _edits(hyp: str, ref: str, unit: str) -> tuple[float, float]:
    """(edit operations, reference length) of one clip, in words or characters, normalised as metrics.wer."""
    import jiwer

    h, r = " ".join(hyp.lower().split()), " ".join(ref.lower().split())
    o = jiwer.process_words(r, h) if unit == "word" else jiwer.process_characters(r, h)
    return o.substitutions + o.deletions + o.insertions, o.substitutions + o.deletions + o.hits


def clip_stats(rows: Sequence[dict], metric: str, labels: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """``{clip_id: statistics}`` of one condition's prediction rows, such that summing any multiset of clips'
    statistics and applying :func:`from_sums` gives ``metric`` on those clips. ``labels``: the class list for
    UAR (the same for runs that are compared)."""
    out: dict[str, np.ndarray] = {}
    if metric in CLASSIFICATION:
        classes = list(labels) or sorted({r["reference"] for r in rows} | {r["prediction"] for r in rows})
        for r in rows:
            hit = float(r["reference"] == r["prediction"])
            if metric == "accuracy":
                out[r["clip_id"]] = np.array([hit, 1.0])
            else:  # per class: (support, hits)
                stats = np.zeros(2 * len(classes))
                c = classes.index(r["reference"])
                stats[2 * c], stats[2 * c + 1] = 1.0, hit
                out[r["clip_id"]] = stats
    elif metric in REGRESSION:
        dims = {"ccc_arousal": (0,), "ccc_valence": (1,), "ccc_mean": (0, 1)}[metric]
        for r in rows:
            p = [float(x) for x in r["prediction"].split()]
            t = [float(x) for x in r["reference"].split()]
            moments = np.array([[1.0, p[d], t[d], p[d] * p[d], t[d] * t[d], p[d] * t[d]] for d in dims]).ravel()
            out[r["clip_id"]] = out.get(r["clip_id"], 0) + moments
    else:
        decoder, unit = RECOGNITION[metric]
        for r in rows:
            if r["decoder"] == decoder:
                out[r["clip_id"]] = np.array(_edits(r["prediction"], r["reference"], unit), dtype=np.float64)
    return out


def _ccc(s: np.ndarray) -> np.ndarray:
    """CCC with population moments from summed (n, p, t, p^2, t^2, p*t), as in metrics.ccc."""
    n, sp, st, spp, stt, spt = (s[..., i] for i in range(6))
    mp, mt = sp / n, st / n
    vp, vt, cov = spp / n - mp**2, stt / n - mt**2, spt / n - mp * mt
    with np.errstate(invalid="ignore", divide="ignore"):
        return 2 * cov / (vp + vt + (mp - mt) ** 2)


def from_sums(metric: str, sums: np.ndarray) -> np.ndarray:
    """The metric from summed clip statistics (last axis = statistics; any leading axes)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "accuracy":
            return sums[..., 0] / sums[..., 1]
        if metric == "uar":
            support, hits = sums[..., 0::2], sums[..., 1::2]
            recall = np.where(support > 0, hits / np.where(support > 0, support, 1), np.nan)
            return np.nanmean(recall, axis=-1)
        if metric in ("ccc_arousal", "ccc_valence"):
            return _ccc(sums)
        if metric == "ccc_mean":
            return (_ccc(sums[..., :6]) + _ccc(sums[..., 6:])) / 2
        return sums[..., 0] / sums[..., 1]  # WER / CER: edits / reference length


# ----------------------------------------------------------------------------------------------- intervals


def _matrix(stats: dict[str, np.ndarray], clips: Sequence[str]) -> np.ndarray:
    return np.stack([stats[c] for c in clips])


def clip_bootstrap(rows: list[dict], task: str, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, dict]:
    """``{condition: {metric: [low, high]}}``: 95 % intervals of one run's metrics over its test clips.

    ``rows`` are prediction rows (predictions.csv); the metric names are those of ``recompute_metrics``
    (``ccc_mean`` aside, which a run does not log)."""
    out: dict[str, dict] = {}
    for cond in dict.fromkeys(r["condition"] for r in rows):
        sel = [r for r in rows if r["condition"] == cond]
        clips = list(dict.fromkeys(r["clip_id"] for r in sel))
        idx = resamples(len(clips), n_boot, seed)
        out[cond] = {}
        for metric in metrics_of(task):
            if metric == "ccc_mean":
                continue
            stats = clip_stats(sel, metric)
            if len(stats) != len(clips):  # e.g. no greedy-CTC rows
                continue
            out[cond][metric] = interval(from_sums(metric, _matrix(stats, clips)[idx].sum(axis=1)))
    return out


def paired_difference(a_runs: Sequence[Sequence[dict]], b_runs: Sequence[Sequence[dict]], metric: str,
                      condition: str = "clean", n_boot: int = N_BOOT, seed: int = 0) -> dict | None:
    """Mean over seeds of A minus mean over seeds of B on the clips both were tested on, with its 95 % interval.

    Each element of ``a_runs``/``b_runs`` is one run's prediction rows (one seed). Every bootstrap resample
    draws the shared clips once and scores every run on that same draw, so clip difficulty cancels (paired).
    Returns ``{"difference", "low", "high", "n_clips", "n_a", "n_b"}`` or None without shared clips.
    """
    runs = [[r for r in rows if r["condition"] == condition] for rows in (*a_runs, *b_runs)]
    labels = sorted({r["reference"] for rows in runs for r in rows} | {r["prediction"] for rows in runs for r in rows}) \
        if metric == "uar" else ()  # fmt: skip
    stats = [clip_stats(rows, metric, labels) for rows in runs]
    shared = sorted(set.intersection(*(set(s) for s in stats))) if stats else []
    if not shared or not a_runs or not b_runs:
        return None
    idx = resamples(len(shared), n_boot, seed)
    full = np.arange(len(shared))[None, :]
    values, boots = [], []
    for s in stats:
        m = _matrix(s, shared)
        values.append(from_sums(metric, m[full].sum(axis=1))[0])
        boots.append(from_sums(metric, m[idx].sum(axis=1)))
    na = len(a_runs)
    diff = float(np.mean(values[:na]) - np.mean(values[na:]))
    boot = np.mean(boots[:na], axis=0) - np.mean(boots[na:], axis=0)
    low, high = interval(boot)
    return {"difference": diff, "low": low, "high": high, "n_clips": len(shared), "n_a": na, "n_b": len(b_runs)}
