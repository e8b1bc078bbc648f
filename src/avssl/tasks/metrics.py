"""Evaluation metrics for the downstream tasks.

Kept dependency-light on purpose (numpy + jiwer only; no sklearn) so every stage can import it. Emotion uses
accuracy and UAR (unweighted average recall = balanced accuracy, the standard for imbalanced emotion corpora),
continuous affect uses the concordance correlation coefficient (CCC), words use accuracy and sentences WER/CER.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _as_int_array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x).astype(np.int64).ravel()


def accuracy(pred, target) -> float:
    """Fraction of exactly matching labels."""
    p, t = _as_int_array(pred), _as_int_array(target)
    if p.shape != t.shape:
        raise ValueError(f"shape mismatch {p.shape} vs {t.shape}")
    if len(t) == 0:
        return float("nan")
    return float((p == t).mean())


def confusion_matrix(pred, target, num_classes: int | None = None) -> np.ndarray:
    """Counts C[i, j] = #(target == i and pred == j) (rows = true class, as in sklearn)."""
    p, t = _as_int_array(pred), _as_int_array(target)
    n = num_classes if num_classes is not None else int(max(p.max(initial=-1), t.max(initial=-1)) + 1)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def uar(pred, target, num_classes: int | None = None) -> float:
    """Unweighted average recall: mean per-class recall over the classes present in ``target``.

    Classes that never occur in the reference are skipped (their recall is undefined), matching
    sklearn's ``balanced_accuracy_score``.
    """
    cm = confusion_matrix(pred, target, num_classes)
    support = cm.sum(axis=1)
    present = support > 0
    if not present.any():
        return float("nan")
    recall = np.diag(cm)[present] / support[present]
    return float(recall.mean())


def ccc(pred, target, mask=None) -> float:
    """Concordance correlation coefficient 2*cov / (var_p + var_t + (mu_p - mu_t)^2) (population moments).

    ``mask`` (same shape, True = valid) restricts the computation to real frames; all valid frames of all
    sequences are pooled, the usual protocol for SEWA/RECOLA-style affect.
    """
    p = np.asarray(pred.detach().cpu() if hasattr(pred, "detach") else pred, dtype=np.float64)
    t = np.asarray(target.detach().cpu() if hasattr(target, "detach") else target, dtype=np.float64)
    if mask is not None:
        m = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask, dtype=bool)
        p, t = p[m], t[m]
    p, t = p.ravel(), t.ravel()
    if p.size == 0:
        return float("nan")
    mp, mt = p.mean(), t.mean()
    vp, vt = p.var(), t.var()
    cov = ((p - mp) * (t - mt)).mean()
    denom = vp + vt + (mp - mt) ** 2
    if denom == 0:
        return 1.0 if np.allclose(p, t) else 0.0
    return float(2 * cov / denom)


def _normalise(texts: Sequence[str]) -> list[str]:
    return [" ".join(str(s).lower().split()) for s in texts]


def wer(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus word error rate (total edits / total reference words), after lower-casing and
    whitespace normalisation; computed by jiwer."""
    import jiwer

    h, r = _normalise(hyps), _normalise(refs)
    _check_pairs(h, r)
    return float(jiwer.wer(r, h))


def cer(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus character error rate (spaces count as characters), computed by jiwer."""
    import jiwer

    h, r = _normalise(hyps), _normalise(refs)
    _check_pairs(h, r)
    return float(jiwer.cer(r, h))


def _check_pairs(h: list[str], r: list[str]) -> None:
    if len(h) != len(r):
        raise ValueError(f"{len(h)} hypotheses vs {len(r)} references")
    if any(not x for x in r):
        raise ValueError("empty reference transcript: WER undefined")
