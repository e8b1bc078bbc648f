"""How sure is one run's metric? A percentile-bootstrap 95 % interval over the test clips.

Why clips: the test clips are the sample a run's metric is measured on, and they are the unit that varies
(frames of one clip are not independent; an ASR clip's errors weigh with its length). Each metric is reduced to
per-clip sufficient statistics first (hits per class, CCC moments, edit counts and reference lengths), so a
resample is a sum of rows and a thousand resamples cost milliseconds. The interval of a run is what
`avssl reproduce` compares a re-run on another machine against (README: reproduction guarantee).

The resampling stream is fixed (``seed``), and every condition of a run uses the same resampled clip sets,
so intervals are deterministic and conditions are paired.
"""

from __future__ import annotations

import numpy as np

from avssl.tasks import TASKS

N_BOOT = 1000
LEVEL = 0.95


def _interval(samples: np.ndarray) -> list[float]:
    lo, hi = np.nanpercentile(samples, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return [float(lo), float(hi)]


def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _classification(sel: list[dict], idx: np.ndarray, with_uar: bool) -> dict[str, list[float]]:
    labels = sorted({r["reference"] for r in sel} | {r["prediction"] for r in sel})
    ref = np.array([labels.index(r["reference"]) for r in sel])
    correct = np.array([r["reference"] == r["prediction"] for r in sel], dtype=np.float64)
    out = {"accuracy": _interval(correct[idx].mean(axis=1))}
    if with_uar:
        onehot = np.eye(len(labels))[ref]  # (clips, classes)
        support = onehot[idx].sum(axis=1)  # (boot, classes)
        hits = (onehot * correct[:, None])[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(support > 0, hits / support, np.nan)
        out["uar"] = _interval(np.nanmean(recall, axis=1))
    return out


def _ccc_from_sums(s: np.ndarray) -> np.ndarray:
    """CCC with population moments from summed (n, p, t, p^2, t^2, p*t) rows, as in metrics.ccc."""
    n, sp, st, spp, stt, spt = (s[..., i] for i in range(6))
    mp, mt = sp / n, st / n
    vp, vt, cov = spp / n - mp**2, stt / n - mt**2, spt / n - mp * mt
    return 2 * cov / (vp + vt + (mp - mt) ** 2)


def _regression(sel: list[dict], clips: list[str], idx: np.ndarray) -> dict[str, list[float]]:
    pos = {c: i for i, c in enumerate(clips)}
    sums = np.zeros((2, len(clips), 6))  # dimension (arousal, valence) x clip x moments
    for r in sel:
        i = pos[r["clip_id"]]
        p = [float(x) for x in r["prediction"].split()]
        t = [float(x) for x in r["reference"].split()]
        for d in range(2):
            sums[d, i] += (1.0, p[d], t[d], p[d] * p[d], t[d] * t[d], p[d] * t[d])
    return {name: _interval(_ccc_from_sums(sums[d][idx].sum(axis=1)))
            for d, name in enumerate(("ccc_arousal", "ccc_valence"))}  # fmt: skip


def _edits(hyp: str, ref: str, unit: str) -> tuple[float, float]:
    """(edit operations, reference length) of one clip, in words or characters, normalised as metrics.wer."""
    import jiwer

    h, r = " ".join(hyp.lower().split()), " ".join(ref.lower().split())
    if unit == "word":
        o = jiwer.process_words(r, h)
        return o.substitutions + o.deletions + o.insertions, o.substitutions + o.deletions + o.hits
    o = jiwer.process_characters(r, h)
    return o.substitutions + o.deletions + o.insertions, o.substitutions + o.deletions + o.hits


def _recognition(sel: list[dict], clips: list[str], idx: np.ndarray) -> dict[str, list[float]]:
    out = {}
    for decoder, metrics in (("beam", (("wer", "word"), ("cer", "char"))), ("greedy_ctc", (("wer_greedy_ctc", "word"),))):
        by_clip = {r["clip_id"]: r for r in sel if r["decoder"] == decoder}
        if len(by_clip) != len(clips):
            continue
        for name, unit in metrics:
            counts = np.array([_edits(by_clip[c]["prediction"], by_clip[c]["reference"], unit) for c in clips])
            summed = counts[idx].sum(axis=1)
            out[name] = _interval(summed[:, 0] / summed[:, 1])
    return out


def clip_bootstrap(rows: list[dict], task: str, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, dict]:
    """``{condition: {metric: [low, high]}}``: 95 % percentile-bootstrap intervals over the test clips.

    ``rows`` are prediction rows (predictions.csv); the metric names are those of ``recompute_metrics``.
    """
    spec = TASKS[task]
    out: dict[str, dict] = {}
    for cond in dict.fromkeys(r["condition"] for r in rows):
        sel = [r for r in rows if r["condition"] == cond]
        clips = list(dict.fromkeys(r["clip_id"] for r in sel))
        idx = _resamples(len(clips), n_boot, seed)
        if spec.kind == "classification":
            out[cond] = _classification(sel, idx, "uar" in spec.metrics)
        elif spec.kind == "regression":
            out[cond] = _regression(sel, clips, idx)
        else:
            out[cond] = _recognition(sel, clips, idx)
    return out
