"""Haar-cascade mouth locator: face detection on key frames, template tracking in between, smoothing.

Pipeline per clip (work is done on frames downscaled to `detect_max_side`):
1. frontal-face cascade on every `keyframe_interval`-th frame;
2. template tracking of the face centre through every frame (precise, drifts slowly);
3. detector-minus-tracker residuals, averaged over neighbouring key frames, correct the drift
   (a complementary filter: high frequencies from the tracker, low frequencies from the detector);
4. the mouth sits at a per-clip offset from the face centre, in face widths: measured with the smile
   cascade in the lower face on key frames (median), or the geometric prior;
5. a short centred moving average removes residual jitter.
Ground-truth annotations are never read here.
"""

from __future__ import annotations

import cv2
import numpy as np

from avssl.preprocessing.track import Track
from avssl.preprocessing.smoothing import interp_rows, moving_average, moving_median
from avssl.preprocessing.template_track import cut_template, match

WINDOW = 30  # detection image scale: smallest wanted face -> this many pixels (cascade window: 24)
TEMPLATE_FRACTION = 0.6  # template side / face width: eyes, nose and upper lip (rigid-ish)


class HaarLocator:
    def __init__(self, params):
        self.p = params
        root = cv2.data.haarcascades
        self.face = cv2.CascadeClassifier(root + "haarcascade_frontalface_default.xml")
        self.smile = cv2.CascadeClassifier(root + "haarcascade_smile.xml") if params.mouth_cascade else None
        if self.face.empty():
            raise RuntimeError(f"cannot load the OpenCV face cascade from {root}")

    # -- detection --------------------------------------------------------------------------------
    def detect(self, gray: np.ndarray, prev: np.ndarray | None) -> np.ndarray | None:
        """Best face box (x,y,w,h) in `gray`.

        With a previous box, search first only around it at similar sizes (several times cheaper);
        fall back to the whole frame, where the largest face wins.
        """
        if prev is not None:
            x, y, w, h = prev
            x0, y0 = int(max(0, x - 0.6 * w)), int(max(0, y - 0.6 * h))
            x1, y1 = int(min(gray.shape[1], x + 1.6 * w)), int(min(gray.shape[0], y + 1.6 * h))
            boxes = self._cascade(gray[y0:y1, x0:x1], 0.75 * w, 1.35 * w)
            if len(boxes):
                boxes = boxes + [x0, y0, 0, 0]
                c = boxes[:, :2] + boxes[:, 2:] / 2
                d = np.hypot(*(c - (prev[:2] + prev[2:] / 2)).T)
                return boxes[d.argmin()]
        boxes = self._cascade(gray, self.p.min_face_fraction * min(gray.shape), None)
        if len(boxes) == 0:
            return None
        return boxes[np.argmax(boxes[:, 2] * boxes[:, 3])]

    def _cascade(self, gray: np.ndarray, min_side: float, max_side: float | None) -> np.ndarray:
        """Face cascade with the image first shrunk so the smallest wanted face is ~WINDOW px.

        OpenCV builds the whole image pyramid from the 24-px window upward even when minSize is large;
        shrinking first skips the useless fine levels (3-5x faster, and the tracker supplies precision).
        """
        f = min(1.0, WINDOW / max(min_side, 1.0))
        small = gray if f == 1.0 else cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        lo = max(24, int(min_side * f))
        kw = {"maxSize": (int(max_side * f) + 1,) * 2} if max_side else {}
        boxes = self.face.detectMultiScale(
            small, self.p.haar_scale_factor, self.p.haar_min_neighbors, minSize=(lo, lo), **kw
        )
        return np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / f

    def mouth_offset(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Smile-cascade mouth centre relative to the face centre, in face widths (None if not found)."""
        x, y, w, h = box
        prior = np.array([self.p.mouth_prior_x - 0.5, self.p.mouth_prior_y - 0.5])
        x0, x1 = int(max(0, x + 0.1 * w)), int(min(gray.shape[1], x + 0.9 * w))
        y0, y1 = int(max(0, y + 0.55 * h)), int(min(gray.shape[0], y + 1.1 * h))
        if x1 - x0 < 20 or y1 - y0 < 10:
            return None
        found = self.smile.detectMultiScale(gray[y0:y1, x0:x1], 1.1, 10, minSize=(int(0.25 * w), int(0.1 * h)))
        best = None
        for mx, my, mw, mh in found:
            rel = (np.array([x0 + mx + mw / 2, y0 + my + mh / 2]) - (box[:2] + box[2:] / 2)) / w
            err = np.abs(rel - prior).max()
            if err < 0.15 and (best is None or err < best[0]):
                best = (err, rel)
        return None if best is None else best[1]

    # -- main -------------------------------------------------------------------------------------
    def locate(self, frames_gray: np.ndarray, clip=None) -> Track:
        p = self.p
        T, H, W = frames_gray.shape
        s = min(1.0, p.detect_max_side / max(H, W))
        small = frames_gray if s == 1.0 else np.stack(
            [cv2.resize(f, (round(W * s), round(H * s)), interpolation=cv2.INTER_AREA) for f in frames_gray]
        )
        searched = np.zeros(T, bool)
        searched[:: p.keyframe_interval] = True
        searched[-1] = True
        dets: dict[int, np.ndarray] = {}
        prev = None
        for k in np.flatnonzero(searched):
            box = self.detect(small[k], prev)
            if box is not None:
                dets[int(k)] = prev = box
        detected = np.zeros(T, bool)
        detected[list(dets)] = True
        if not dets:
            nan2, nan4 = np.full((T, 2), np.nan, np.float32), np.full((T, 4), np.nan, np.float32)
            return Track(nan4, nan2, np.full(T, np.nan, np.float32), detected, searched)

        keys = np.array(sorted(dets))
        kbox = np.stack([dets[k] for k in keys])
        kcen = kbox[:, :2] + kbox[:, 2:] / 2
        width = interp_rows(keys, moving_median(kbox[:, 2], p.detection_smooth_keyframes), T)[:, 0]
        track = self._track(small, dets, width, p.track_min_score)
        resid = kcen - track[keys]
        resid = moving_average(moving_median(resid, p.detection_smooth_keyframes), p.detection_smooth_keyframes)
        centre = track + interp_rows(keys, resid, T)

        rel = np.array([p.mouth_prior_x - 0.5, p.mouth_prior_y - 0.5])
        if self.smile is not None:
            found = [r for k, b in zip(keys, kbox) if (r := self.mouth_offset(small[k], b)) is not None]
            if len(found) >= max(1, len(keys) // 5):
                rel = np.median(np.stack(found), axis=0)
        mouth = centre + rel[None] * width[:, None]
        if p.mouth_refine:
            y = np.array([mouth_line_y(small[t], mouth[t], width[t]) for t in range(T)])
            ok = np.isfinite(y)
            if ok.any():
                y = np.interp(np.arange(T), np.flatnonzero(ok), y[ok]) + p.mouth_line_offset * width
                mouth[:, 1] = y
        mouth = centre + moving_average(mouth - centre, p.smooth_frames)

        box = np.concatenate([centre - width[:, None] / 2, width[:, None], width[:, None]], axis=1)
        return Track(
            face_box=(box / s).astype(np.float32),
            mouth_center=(mouth / s).astype(np.float32),
            roi_size=(p.mouth_roi_scale * width / s).astype(np.float32),
            detected=detected,
            searched=searched,
        )

    @staticmethod
    def _track(small: np.ndarray, dets: dict[int, np.ndarray], width: np.ndarray, min_score: float) -> np.ndarray:
        """Face-centre path through all frames (small-frame coordinates) by template matching.

        Runs forward from the first detection (backward for the frames before it). When the match score
        drops below `min_score` the position is held until the next detection re-initialises it; at every
        detection the template is refreshed at the *tracked* position, so detector jitter never enters here.
        """
        T = len(small)
        out = np.zeros((T, 2))
        k0 = min(dets)
        start = dets[k0][:2] + dets[k0][2:] / 2

        def run(order):
            pos = start.copy()
            tmpl, bias, lost = None, np.zeros(2), False
            for t in order:
                if tmpl is not None:
                    radius = int(0.25 * width[t]) + 3
                    x, y, score = match(small[t], tmpl, pos[0] + bias[0], pos[1] + bias[1], radius)
                    if score >= min_score:
                        pos = np.array([x, y]) - bias
                    else:
                        lost = True
                if t in dets and (lost or tmpl is None):
                    pos = dets[t][:2] + dets[t][2:] / 2
                    lost = False
                out[t] = pos
                if t in dets or tmpl is None:
                    side = int(TEMPLATE_FRACTION * width[t])
                    cx, cy = round(pos[0] - side / 2) + side / 2, round(pos[1] - side / 2) + side / 2
                    new = cut_template(small[t], pos[0], pos[1], side)
                    if new is not None:
                        tmpl, bias = new, np.array([cx, cy]) - pos

        run(range(k0, T))
        run(range(k0, -1, -1))
        return out


def mouth_line_y(gray: np.ndarray, prior: np.ndarray, width: float) -> float:
    """Row of the mouth (lip line or open cavity) near `prior`: centroid of small dark structures.

    A black-hat filter (closing minus image) keeps dark features smaller than a mouth-sized ellipse
    (the line between the lips, an open mouth) and suppresses shading; a Gaussian around the prior keeps
    nostrils and chin out. Vertical only: the horizontal centre comes from the face track, which is steadier.
    """
    cx, cy = float(prior[0]), float(prior[1])
    x0, x1 = int(max(0, cx - 0.25 * width)), int(min(gray.shape[1], cx + 0.25 * width))
    y0, y1 = int(max(0, cy - 0.2 * width)), int(min(gray.shape[0], cy + 0.2 * width))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return float("nan")
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.4 * width) | 1, int(0.2 * width) | 1))
    bh = cv2.morphologyEx(gray[y0:y1, x0:x1], cv2.MORPH_BLACKHAT, k).astype(np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    gauss = np.exp(-0.5 * (((xs - cx) / (0.12 * width)) ** 2 + ((ys - cy) / (0.1 * width)) ** 2))
    wgt = bh * bh * gauss
    total = float(wgt.sum())
    return float((wgt * ys).sum() / total) if total > 0 else float("nan")
