"""Speaker-independent folds and the split rule that turns a fold choice into train/val/test.

Emotion corpora have no official split; results are only comparable across methods when every method sees
the same speakers in test. Speakers are assigned to folds round-robin in a fixed order (optionally grouped,
e.g. by gender, so that each fold gets a balanced mix), then with test fold ``f`` the rule is:
test = fold f, val = fold (f+1) mod k, train = the rest. The same rule serves IEMOCAP's
leave-one-session-out protocol (fold = session - 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def assign_folds(speakers: Iterable[str], n_folds: int, group: Callable[[str], str] | None = None) -> dict[str, int]:
    """Map each speaker to a fold in ``0..n_folds-1``; deterministic (sorted ids, grouped first if asked)."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    ordered = sorted(set(speakers), key=lambda s: ((group(s) if group else ""), s))
    return {spk: i % n_folds for i, spk in enumerate(ordered)}


def split_for_fold(fold: int, test_fold: int, n_folds: int) -> str:
    """``test`` for the test fold, ``val`` for the next one, ``train`` otherwise."""
    if not 0 <= test_fold < n_folds:
        raise ValueError(f"test fold {test_fold} outside 0..{n_folds - 1}")
    if fold == test_fold:
        return "test"
    if fold == (test_fold + 1) % n_folds:
        return "val"
    return "train"
