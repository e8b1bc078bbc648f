"""Derive the project's 68-point mean face (``mean_face_68.csv``) from a parametric template.

Why not the auto-AVSR/RAVEn ``20words_mean_face.npy``: it is someone else's data file of unclear licence,
and alignment only needs *a* fixed canonical face that puts the mouth at a stable place and scale. So the
project builds its own, reproducibly, from a few documented proportions:

- 256 x 256 reference (as RAVEn), face centred horizontally (x = 128).
- Mouth: corners 56 px apart at y = 180 (so a 96 px crop holds the mouth with ~20 px margin each side,
  like RAVEn crops); upper lip 10-11 px above, lower lip 13-14 px below the corner line.
- Nose tip and chin are placed with the ratios measured on the public-domain ``skimage.data.astronaut()``
  face (mouth width 43 px; nose tip 17 px above and chin 30 px below the mouth centre; see
  docs/reference facts): nose tip 22 px above (y = 158) and chin 39 px below (y = 219) the mouth.
- Eyes: outer corners 100 px apart (canthal width ~1.8 x mouth width), eye line at y = 105, i.e. an
  eye-to-mouth distance of 75 px, ~1.2 x the interpupillary distance (typical adult proportions).
- Jaw: 17 points on an ellipse through the chin and the ear line; brows: arcs 17-20 px above the eyes;
  contour orders follow the iBUG 300-W 68-point convention (0-16 jaw, 17-26 brows, 27-35 nose,
  36-47 eyes, 48-59 outer lips, 60-67 inner lips; image-left first).

Run ``python -m avssl.preprocessing.derive_mean_face`` to regenerate the CSV (byte-identical output).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUTPUT = Path(__file__).with_name("mean_face_68.csv")


def template() -> np.ndarray:
    """The 68 (x, y) points in the 256 x 256 reference, float64."""
    pts: list[tuple[float, float]] = []
    for i in range(17):  # jaw: ellipse centre (128, 120), semi-axes 68 x 99, from the left ear to the right
        psi = np.deg2rad(-10.0 + i * 200.0 / 16)  # -10 deg = left ear line, 90 deg = chin (image y downwards)
        pts.append((128 - 68 * np.cos(psi), 120 + 99 * np.sin(psi)))
    brow_x = np.linspace(72, 118, 5)
    brow_y = 88 - 8 * np.sin(np.pi * (brow_x - 72) / 46)
    pts += list(zip(brow_x, brow_y))
    pts += list(zip(256 - brow_x[::-1], brow_y[::-1]))
    pts += [(128, 104), (128, 122), (128, 140), (128, 158)]  # nose bridge 27-30 (30 = tip)
    pts += [(112, 164), (120, 166), (128, 167), (136, 166), (144, 164)]  # nose base 31-35
    pts += [(78, 105), (90, 97), (102, 97), (114, 105), (102, 111), (90, 111)]  # left eye 36-41
    pts += [(142, 105), (154, 97), (166, 97), (178, 105), (166, 111), (154, 111)]  # right eye 42-47
    pts += [(100, 180), (110, 172), (120, 169), (128, 170), (136, 169), (146, 172),  # outer lips 48-59
            (156, 180), (146, 189), (136, 193), (128, 194), (120, 193), (110, 189)]
    pts += [(104, 180), (118, 176), (128, 176), (138, 176), (152, 180), (138, 184), (128, 185), (118, 184)]
    return np.asarray(pts, dtype=np.float64)


def write(path: Path = OUTPUT) -> Path:
    pts = template()
    lines = ["x,y"] + [f"{x:.3f},{y:.3f}" for x, y in pts]
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(write())
