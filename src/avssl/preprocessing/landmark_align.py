"""Landmark-based mouth cropping: the RAVEn / auto-AVSR recipe as pure numpy + OpenCV functions.

Per clip: fill frames whose landmarks are missing by linear interpolation in time; smooth the landmarks
over +-6 frames (detector jitter would otherwise shake the crop); per frame, fit a similarity transform
(rotation + uniform scale + translation, least squares, Umeyama 1991) from 8 stable points
(iBUG 0-based 28, 33, 36, 39, 42, 45, 48, 54: nose bridge/tip, eye corners, mouth corners) to a mean face
in a 256 x 256 reference; map the frame into that reference and cut a ``crop_size`` square centred on the
mean of the transformed mouth landmarks 48-67. Warping and cropping are composed into one affine warp per
frame (no full 256 x 256 intermediate), with replicated borders so crops near the frame edge have no
black bands. Speaker pose, distance and in-plane rotation are thus normalised: the same mouth gives the
same crop.
"""

from __future__ import annotations

import cv2
import numpy as np

from avssl.media import MOUTH_ROI
from avssl.preprocessing.mean_face import load_mean_face

STABLE_POINTS = (28, 33, 36, 39, 42, 45, 48, 54)
MOUTH_POINTS = tuple(range(48, 68))
SMOOTH_HALF_WINDOW = 6
REFERENCE_SIZE = 256


def interpolate_missing(landmarks: np.ndarray) -> np.ndarray:
    """Fill frames with any NaN coordinate by linear interpolation between the nearest detected frames.

    Frames before the first / after the last detection copy the nearest detection. Raises ``ValueError``
    when no frame has landmarks (the clip cannot be aligned and should be rejected upstream).
    """
    lm = np.asarray(landmarks, dtype=np.float64).copy()
    if lm.ndim != 3 or lm.shape[2] != 2:
        raise ValueError(f"landmarks must be (T, K, 2), got {lm.shape}")
    ok = np.isfinite(lm).all(axis=(1, 2))
    if not ok.any():
        raise ValueError("no frame has landmarks")
    if ok.all():
        return lm
    t = np.arange(len(lm))
    flat = lm.reshape(len(lm), -1)
    for j in range(flat.shape[1]):
        flat[~ok, j] = np.interp(t[~ok], t[ok], flat[ok, j])
    return flat.reshape(lm.shape)


def smooth_landmarks(landmarks: np.ndarray, half_window: int = SMOOTH_HALF_WINDOW) -> np.ndarray:
    """Centred moving average over ``t - half_window .. t + half_window`` (window shrinks at clip edges)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if half_window <= 0:
        return lm.copy()
    csum = np.concatenate([np.zeros((1,) + lm.shape[1:]), np.cumsum(lm, axis=0)])
    t = np.arange(len(lm))
    lo = np.clip(t - half_window, 0, len(lm))
    hi = np.clip(t + half_window + 1, 0, len(lm))
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None, None]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2 x 3 matrix M minimising sum |M [src; 1] - dst|^2 over rotations, uniform scales and translations.

    Umeyama's closed form: SVD of the cross-covariance, with the sign correction that forbids reflections
    (a mirrored face must not be 'aligned' by flipping it).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("degenerate source points (all coincide)")
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[1, 1] = -1
    rot = u @ fix @ vt
    scale = (sig * np.diag(fix)).sum() / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def apply_transform(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2 x 3 affine matrix to (..., 2) points."""
    return points @ m[:, :2].T + m[:, 2]


def align_transforms(landmarks: np.ndarray, mean_face: np.ndarray, stable_points=STABLE_POINTS) -> np.ndarray:
    """Per-frame (T, 2, 3) similarity transforms frame -> reference from already cleaned landmarks."""
    idx = list(stable_points)
    return np.stack([similarity_transform(lm[idx], mean_face[idx]) for lm in landmarks])


def crop_mouths(
    frames_gray: np.ndarray,
    landmarks: np.ndarray,
    crop_size: int = MOUTH_ROI,
    mean_face: np.ndarray | None = None,
    half_window: int = SMOOTH_HALF_WINDOW,
    stable_points=STABLE_POINTS,
) -> np.ndarray:
    """uint8 (T, crop, crop) mouth crops from uint8 (T, H, W) frames and (T, 68, 2) landmarks (NaN = missing).

    ``mean_face`` defaults to :func:`avssl.preprocessing.mean_face.load_mean_face` (256 x 256 reference). Colour
    frames (T, H, W, 3, BGR) are converted to grayscale first.
    """
    frames = np.asarray(frames_gray)
    if frames.ndim == 4 and frames.shape[-1] == 3:
        frames = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W), got {frames.dtype} {frames.shape}")
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (len(frames), 68, 2):
        raise ValueError(f"landmarks must be ({len(frames)}, 68, 2), got {lm.shape}")
    ref = load_mean_face() if mean_face is None else np.asarray(mean_face, dtype=np.float64)
    lm = smooth_landmarks(interpolate_missing(lm), half_window)
    transforms = align_transforms(lm, ref, stable_points)
    out = np.empty((len(frames), crop_size, crop_size), dtype=np.uint8)
    mouth = list(MOUTH_POINTS)
    for t, (frame, m) in enumerate(zip(frames, transforms)):
        centre = apply_transform(m, lm[t, mouth]).mean(0)
        m_crop = m.copy()
        m_crop[:, 2] -= centre - (crop_size - 1) / 2.0  # mouth centre -> middle of the crop
        out[t] = cv2.warpAffine(frame, m_crop, (crop_size, crop_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out
