"""Talking mouth: per-frame warp of the mouth region from (openness, rounding, spreading) + expression.

Backward mapping with `cv2.remap` on a small region around the lips (cheap): rows between the lips are
stretched or squeezed (the photo shows teeth between the lips; squeezing them to zero closes the mouth,
stretching opens it and a dark cavity appears below the teeth), columns are squeezed towards the mouth
centre for rounding and stretched for spreading, and the corners move up (smile) or down (frown).
"""

from __future__ import annotations

import numpy as np

from avssl.data.synth.face import Identity

MAX_GAP = 20.0  # lip gap in photo pixels at openness 1
CAVITY_BGR = np.array([38, 30, 70], np.float32)


class MouthWarper:
    """Holds the region grid of one identity; ``apply(canvas, ...)`` rewrites the region in place."""

    def __init__(self, ident: Identity, expression: tuple[float, float, float, float, float]):
        self.ident = ident
        self.smile, self.jaw, self.spread_bias, self.raise_, _brow = expression
        hw = ident.mouth_half_width
        xc = ident.x_centre
        self.x0, self.x1 = int(xc - 2.1 * hw), int(xc + 2.1 * hw) + 1
        self.y0, self.y1 = int(ident.lip_top - 14), int(ident.chin + 14) + 1
        ys, xs = np.mgrid[self.y0 : self.y1, self.x0 : self.x1].astype(np.float32)
        self.xs, self.ys = xs, ys
        u = (xs - xc) / hw
        self.u2 = np.clip(u, -1.3, 1.3) ** 2
        # horizontal window: 1 across the mouth, 0 at the region's sides
        self.wx = np.clip(1 - (np.abs(xs - xc) - 1.1 * hw) / (0.9 * hw), 0, 1)
        # vertical window around the lip line
        lip_mid = 0.5 * (ident.lip_upper + ident.lip_lower)
        dist = np.where(ys < lip_mid, (lip_mid - ys) / (lip_mid - self.y0), (ys - lip_mid) / (self.y1 - lip_mid))
        self.wy = np.clip(1 - dist, 0, 1) ** 1.5
        self.mouth_ellipse = np.clip(1 - np.abs(u) / 0.95, 0, 1)
        # per-clip constant parts of the maps (the per-frame part is separable or a scalar multiple)
        self.rows = np.arange(self.y0, self.y1, dtype=np.float64)
        self.smile_term = (self.smile * 3.0 * self.u2 * self.wy).astype(np.float32)
        self.round_term = (self.wx * self.wy * (xs - xc)).astype(np.float32)

    def gap(self, openness: float) -> float:
        return max(0.0, (openness + 0.15 * self.jaw) * MAX_GAP)

    def lips(self, openness: float) -> tuple[float, float]:
        """Inner upper and lower lip rows for this openness (upper lip moves a fifth of the change)."""
        g0 = self.ident.lip_lower - self.ident.lip_upper
        dg = self.gap(openness) - g0
        upper = self.ident.lip_upper - 0.2 * dg - 2.0 * self.raise_
        lower = max(upper + 1e-2, self.ident.lip_lower + 0.8 * dg)
        return upper, lower

    def apply(self, canvas: np.ndarray, openness: float, rounding: float, spreading: float) -> None:
        """Rewrite the mouth region of ``canvas`` (a copy of the identity image) for one frame."""
        import cv2

        ident = self.ident
        upper, lower = self.lips(openness)
        rows_src = np.interp(
            self.rows, [self.y0, upper, lower, self.y1], [self.y0, ident.lip_upper, ident.lip_lower, self.y1]
        ).astype(np.float32)
        map_y = self.ys + self.wx * (rows_src - self.rows.astype(np.float32))[:, None] + self.smile_term
        sx = 1 + 0.2 * spreading - 0.3 * rounding + 0.1 * self.spread_bias
        map_x = self.xs + self.round_term * np.float32(1 / sx - 1)
        roi = cv2.remap(ident.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        g = lower - upper
        g0 = ident.lip_lower - ident.lip_upper
        if g > g0:  # mouth open wider than in the photo: dark cavity below the teeth
            frac = (self.rows - upper) / g
            col = np.clip((frac - 0.45) / 0.3, 0, 1) * (frac < 1.0) * (frac > 0) * min(1.0, (g - g0) / g0)
            a = (col[:, None] * self.mouth_ellipse)[..., None].astype(np.float32)
            roi = (roi * (1 - a) + CAVITY_BGR * a).astype(np.uint8)
        canvas[self.y0 : self.y1, self.x0 : self.x1] = roi

    def mouth_centre(self, openness: float) -> tuple[float, float]:
        """Centre of the lips in identity coordinates for this openness."""
        upper, lower = self.lips(openness)
        ident = self.ident
        offset = ident.mouth_centre[1] - 0.5 * (ident.lip_upper + ident.lip_lower)
        return ident.x_centre, 0.5 * (upper + lower) + offset
