"""Metrics against hand-computed references (sklearn is not installed on purpose)."""

import numpy as np
import pytest

from avssl.tasks import metrics as M


def edit_distance(a, b):
    """Plain Levenshtein DP, independent of jiwer."""
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(b)]


def test_accuracy_and_confusion():
    t = [0, 0, 0, 1, 1, 2]
    p = [0, 1, 0, 1, 1, 0]
    assert M.accuracy(p, t) == pytest.approx(4 / 6)
    cm = M.confusion_matrix(p, t, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_uar_is_mean_class_recall():
    t = [0, 0, 0, 0, 1, 1, 2]
    p = [0, 0, 0, 1, 1, 0, 2]
    # recalls: 3/4, 1/2, 1/1
    assert M.uar(p, t) == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    # a class only predicted, never in the reference, is ignored
    assert M.uar([3, 0], [0, 0], num_classes=4) == pytest.approx(0.5)
    # majority-class predictor: accuracy high, UAR = 1/n_classes
    assert M.uar([0] * 10, [0] * 8 + [1] * 2) == pytest.approx(0.5)


def test_ccc_hand_values():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert M.ccc(x, x) == pytest.approx(1.0)
    assert M.ccc(5 - x, x) == pytest.approx(-1.0)  # same mean, anti-correlated
    assert M.ccc(-x, x) == pytest.approx(-2.5 / 27.5)  # mean diff 5 is penalised
    # shifted by 1: var 1.25 each, cov 1.25, mean diff 1 -> 2*1.25/(2.5+1)
    assert M.ccc(x + 1, x) == pytest.approx(2.5 / 3.5)
    # scaled by 2: var_p 5, var_t 1.25, cov 2.5, mean diff 2.5 -> 5/(6.25+6.25)
    assert M.ccc(2 * x, x) == pytest.approx(5 / 12.5)
    # mask drops the garbage frame
    assert M.ccc(np.r_[x, 100.0], np.r_[x, -5.0], mask=np.r_[[True] * 4, False]) == pytest.approx(1.0)


def test_wer_cer_against_own_edit_distance():
    refs = ["the cat sat on the mat", "hello world", "a b c d"]
    hyps = ["the cat sat on mat", "hello there world", "a x c d e"]
    ref_w = [r.split() for r in refs]
    exp_wer = sum(edit_distance(r, h.split()) for r, h in zip(ref_w, hyps)) / sum(map(len, ref_w))
    assert M.wer(hyps, refs) == pytest.approx(exp_wer)
    assert exp_wer == pytest.approx((1 + 1 + 2) / 12)
    exp_cer = sum(edit_distance(list(r), list(h)) for r, h in zip(refs, hyps)) / sum(len(r) for r in refs)
    assert M.cer(hyps, refs) == pytest.approx(exp_cer)


def test_wer_normalises_case_and_space_and_empty_hypothesis():
    assert M.wer(["HELLO   World"], ["hello world"]) == 0.0
    assert M.wer([""], ["two words"]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        M.wer(["a"], ["a", "b"])
