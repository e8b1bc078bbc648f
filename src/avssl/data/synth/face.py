"""Face identities built from the public-domain photo `skimage.data.astronaut()`.

A speaker's face is the photo with its own skin tone, hair tone, background colour, brightness and
contrast, and a mild non-rigid shape change (face width, lower-face length, jaw width). The shape warp
only moves pixels horizontally as a function of (x, y) and vertically as a function of y, so the lip
line stays horizontal and landmarks map forward by 1-D interpolation. Mirror, scale and tilt are applied
later in the per-frame affine, together with the head motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# landmarks of the original photo (x, y), measured
FACE_BOX = (177.0, 66.0, 95.0, 95.0)  # x, y, w, h (Haar cascade detection)
FACE_CENTRE = (224.0, 113.0)
MOUTH_CENTRE = (223.5, 146.0)
MOUTH_LEFT, MOUTH_RIGHT = (202.0, 139.0), (245.0, 141.0)
LIP_UPPER_INNER, LIP_LOWER_INNER = 139.0, 148.0  # the photo shows teeth between these rows
UPPER_LIP_TOP, LOWER_LIP_BOTTOM, CHIN = 133.0, 156.0, 177.0
BROW_Y = 98.0


@dataclass
class Identity:
    """A speaker's face image (BGR uint8, photo coordinates) and its landmarks after the shape warp."""

    image: np.ndarray
    face_box: tuple[float, float, float, float]
    mouth_centre: tuple[float, float]
    mouth_half_width: float
    lip_upper: float  # inner upper-lip row
    lip_lower: float  # inner lower-lip row
    lip_top: float
    chin: float
    brow_y: float
    x_centre: float  # mouth x in the warped image


@lru_cache(maxsize=1)
def _photo_and_masks() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The photo (BGR float32) and soft masks of skin, hair and background (float32 HxWx1)."""
    import cv2
    from skimage import data

    img = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
    ycc = cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb).astype(np.int16)
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]].astype(np.float32)
    head = ((xx - 224) / 74) ** 2 + ((yy - 116) / 90) ** 2 < 1
    face = (((xx - 223) / 47) ** 2 + ((yy - 128) / 60) ** 2 < 1) | ((abs(xx - 221) < 34) & (yy > 150) & (yy < 215))
    skin_col = (ycc[..., 1] > 135) & (ycc[..., 1] < 180) & (ycc[..., 2] > 85) & (ycc[..., 2] < 135)
    skin = face & skin_col
    hair = head & ~face & (yy < 160)
    wall = (hsv[..., 1] < 70) & (hsv[..., 2] > 140)
    far = ((xx - 224) / 90) ** 2 + ((yy - 116) / 106) ** 2 > 1
    bg = wall & far & (yy < 330)

    def soft(m: np.ndarray, k: int = 9) -> np.ndarray:
        return cv2.GaussianBlur(m.astype(np.float32), (k, k), 0)[..., None]

    return img.astype(np.float32), soft(skin), soft(hair), soft(bg, 15)


def _shape_maps(width: float, length: float, jaw: float, shape: tuple[int, int]):
    """Backward maps of the shape warp and the 1-D forward functions for landmarks."""
    h, w = shape
    cx, cy = FACE_CENTRE
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    # vertical: stretch the lower face (below the eyes, y > 105) by `length`, fading out below the chin
    lo, hi = 105.0, 215.0
    fy_out = ys.copy()  # forward positions of source rows
    inside = (ys > lo) & (ys <= hi)
    fy_out[inside] = lo + (ys[inside] - lo) * length
    fy_out[ys > hi] = lo + (hi - lo) * length + (ys[ys > hi] - hi)
    src_y = np.interp(ys, fy_out, ys).astype(np.float32)  # backward
    # horizontal: widen by `width` near the face, plus `jaw` widening growing below the mouth
    jaw_gain = np.clip((ys - 140) / 40, 0, 1) * np.clip((230 - ys) / 30, 0, 1)
    scale_rows = (width * (1 + jaw * jaw_gain)).astype(np.float32)  # per output row
    dx = xs[None, :] - cx
    fade = np.exp(-((dx / 120.0) ** 2))
    src_x = cx + dx * (fade / scale_rows[:, None] + (1 - fade))
    src_yy = np.broadcast_to(src_y[:, None], (h, w))
    return src_x.astype(np.float32), np.ascontiguousarray(src_yy), fy_out, scale_rows


def build_identity(spk) -> Identity:
    """Render the speaker's face image once (a few ms); cached per process by the caller."""
    import cv2

    photo, skin, hair, bg = _photo_and_masks()
    img = photo.copy()
    gains = np.array([spk.skin_b, spk.skin_g, spk.skin_r], np.float32)
    img = img * (1 - skin) + img * gains * skin
    img = img * (1 - hair) + np.clip(img * spk.hair_tone, 0, 255) * hair
    wall_lum = img.mean(axis=2, keepdims=True) / 200.0
    colour = np.array([spk.bg_b, spk.bg_g, spk.bg_r], np.float32)
    img = img * (1 - bg) + np.clip(colour * wall_lum, 0, 255) * bg
    img = (img - 128) * spk.contrast + 128 + spk.brightness
    img = np.clip(img, 0, 255).astype(np.uint8)
    mx, my, fy_out, scale_rows = _shape_maps(spk.face_width, spk.face_length, spk.jaw_width, img.shape[:2])
    img = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def fwd_y(y: float) -> float:
        return float(np.interp(y, np.arange(len(fy_out)), fy_out))

    def fwd_x(x: float, y_out: float) -> float:
        s = float(scale_rows[int(np.clip(round(y_out), 0, len(scale_rows) - 1))])
        dx = x - FACE_CENTRE[0]
        row = np.arange(-200, 201, dtype=np.float64)  # output offsets
        fade = np.exp(-((row / 120.0) ** 2))
        src = row * (fade / s + (1 - fade))
        return FACE_CENTRE[0] + float(np.interp(dx, src, row))

    x0, y0, bw, bh = FACE_BOX
    top, bottom = fwd_y(y0), fwd_y(y0 + bh)
    left, right = fwd_x(x0, bottom - 10), fwd_x(x0 + bw, bottom - 10)
    my_ = fwd_y(MOUTH_CENTRE[1])
    return Identity(
        image=img,
        face_box=(left, top, right - left, bottom - top),
        mouth_centre=(fwd_x(MOUTH_CENTRE[0], my_), my_),
        mouth_half_width=0.5 * (fwd_x(MOUTH_RIGHT[0], my_) - fwd_x(MOUTH_LEFT[0], my_)),
        lip_upper=fwd_y(LIP_UPPER_INNER),
        lip_lower=fwd_y(LIP_LOWER_INNER),
        lip_top=fwd_y(UPPER_LIP_TOP),
        chin=fwd_y(CHIN),
        brow_y=fwd_y(BROW_Y),
        x_centre=fwd_x(MOUTH_CENTRE[0], my_),
    )
