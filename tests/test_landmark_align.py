"""Mouth cropping on synthetic faces drawn at known landmark positions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from avssl.preprocessing.derive_mean_face import template
from avssl.preprocessing.mean_face import DEFAULT_PATH, load_mean_face
from avssl.preprocessing.landmark_align import (
    apply_transform,
    crop_mouths,
    interpolate_missing,
    similarity_transform,
    smooth_landmarks,
)


def place(points: np.ndarray, angle_deg: float, scale: float, shift) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-transform points about (128, 128) and shift; returns (points, 2x3 matrix)."""
    m = cv2.getRotationMatrix2D((128.0, 128.0), angle_deg, scale)
    m[:, 2] += shift
    return apply_transform(m, points), m


def draw_face(lm: np.ndarray, size=(360, 400)) -> np.ndarray:
    """Grayscale face: textured background, skin ellipse from the jaw, dark eyes, nose, lips, mouth."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = (100 + 40 * np.sin(xx / 9.0) * np.cos(yy / 13.0)).astype(np.float32)
    pts = lambda idx: np.round(lm[idx] * 16).astype(np.int32)  # noqa: E731 (sub-pixel drawing)
    face = np.concatenate([lm[0:17], lm[26:16:-1] - [0, 25]])
    cv2.fillPoly(img, [np.round(face * 16).astype(np.int32)], 170, cv2.LINE_AA, 4)
    for eye in (range(36, 42), range(42, 48)):
        cv2.fillPoly(img, [pts(list(eye))], 40, cv2.LINE_AA, 4)
    cv2.polylines(img, [pts(list(range(27, 36)))], False, 110, 2, cv2.LINE_AA, 4)
    cv2.fillPoly(img, [pts(list(range(48, 60)))], 90, cv2.LINE_AA, 4)  # lips
    cv2.fillPoly(img, [pts(list(range(60, 68)))], 15, cv2.LINE_AA, 4)  # open mouth
    return np.clip(img, 0, 255).astype(np.uint8)


def clip(angle: float, scale: float, shift, t: int = 8) -> tuple[np.ndarray, np.ndarray]:
    base = template()
    lm, _ = place(base, angle, scale, shift)
    frame = draw_face(lm)
    return np.repeat(frame[None], t, 0), np.repeat(lm[None], t, 0)


def test_mean_face_file_is_the_derived_template():
    np.testing.assert_allclose(load_mean_face(), template(), atol=1e-3)
    assert DEFAULT_PATH.name == "mean_face_68.csv"


def test_load_mean_face_other_path(tmp_path):
    p = tmp_path / "face.npy"
    np.save(p, template() * 0.5)
    assert load_mean_face(p)[8, 1] == pytest.approx(109.5)
    np.save(p, np.zeros((5, 2)))
    with pytest.raises(ValueError):
        load_mean_face(p)


def test_similarity_transform_recovers_known_transform():
    src = np.random.default_rng(0).uniform(0, 200, (8, 2))
    dst, m = place(src, 33.0, 0.7, (12.0, -5.0))
    np.testing.assert_allclose(similarity_transform(src, dst), m, atol=1e-9)


def test_interpolate_and_smooth():
    lm = np.zeros((5, 68, 2))
    lm[:, :, 0] = np.arange(5)[:, None] * 2.0
    lm[[0, 2], :, :] = np.nan
    filled = interpolate_missing(lm)
    np.testing.assert_allclose(filled[:, 0, 0], [2, 2, 4, 6, 8])
    with pytest.raises(ValueError):
        interpolate_missing(np.full((3, 68, 2), np.nan))
    noisy = np.random.default_rng(1).normal(0, 1, (50, 68, 2))
    assert smooth_landmarks(noisy, 6).std() < noisy.std() / 2.5


def test_crop_lands_on_mouth():
    frames, lm = clip(0.0, 1.0, (60.0, 40.0))
    crops = crop_mouths(frames, lm)
    assert crops.shape == (8, 96, 96) and crops.dtype == np.uint8
    dark = crops[0] < 30  # the open mouth is the darkest region
    ys, xs = np.nonzero(dark)
    assert abs(xs.mean() - 47.5) < 3 and abs(ys.mean() - 47.5) < 3


@pytest.mark.parametrize("angle,scale,shift", [(20.0, 1.2, (70.0, 60.0)), (-15.0, 0.8, (40.0, 30.0))])
def test_rotated_scaled_face_gives_same_crop(angle, scale, shift):
    upright = crop_mouths(*clip(0.0, 1.0, (60.0, 40.0)))
    moved = crop_mouths(*clip(angle, scale, shift))
    diff = np.abs(upright.astype(float) - moved.astype(float))
    assert diff.mean() < 6.0, diff.mean()


def test_missing_frames_and_jitter_are_handled():
    frames, lm = clip(0.0, 1.0, (60.0, 40.0), t=12)
    ref = crop_mouths(frames, lm)
    lm = lm + np.random.default_rng(2).normal(0, 1.0, lm.shape)
    lm[[0, 5, 11]] = np.nan
    crops = crop_mouths(frames, lm)
    assert np.abs(crops.astype(float) - ref.astype(float)).mean() < 6.0
