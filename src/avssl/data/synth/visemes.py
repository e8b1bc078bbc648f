"""Phonemes -> viseme track: mouth openness, rounding and spreading per video frame.

Each eSpeak NG phoneme gets articulatory targets; targets are held over the phoneme, smoothed with a
Gaussian (coarticulation: neighbouring phonemes blend, the lips anticipate), and bilabials (p, b, m)
are then forced shut in their middle, because lips must touch for them whatever the context.
"""

from __future__ import annotations

import numpy as np

from avssl.media import FPS

# class index, name
VISEME_CLASSES: tuple[str, ...] = (
    "sil", "bilabial", "labiodental", "dental", "alveolar", "postalveolar", "velar", "rounded",
    "open", "mid", "spread",
)  # fmt: skip

# (openness, rounding, spreading, class) for consonants by eSpeak NG mnemonic
_CONSONANTS: dict[str, tuple[float, float, float, int]] = {
    "p": (0.0, 0.0, 0.0, 1), "b": (0.0, 0.0, 0.0, 1), "m": (0.0, 0.0, 0.0, 1),
    "f": (0.1, 0.0, 0.2, 2), "v": (0.1, 0.0, 0.2, 2),
    "T": (0.3, 0.0, 0.2, 3), "D": (0.3, 0.0, 0.2, 3),
    "t": (0.25, 0.0, 0.3, 4), "d": (0.25, 0.0, 0.3, 4), "n": (0.25, 0.0, 0.3, 4), "l": (0.3, 0.0, 0.2, 4),
    "s": (0.2, 0.0, 0.5, 4), "z": (0.2, 0.0, 0.5, 4),
    "S": (0.3, 0.6, 0.0, 5), "Z": (0.3, 0.6, 0.0, 5), "tS": (0.3, 0.6, 0.0, 5), "dZ": (0.3, 0.6, 0.0, 5),
    "j": (0.2, 0.0, 0.5, 5),
    "k": (0.4, 0.0, 0.1, 6), "g": (0.4, 0.0, 0.1, 6), "N": (0.35, 0.0, 0.1, 6), "h": (0.45, 0.0, 0.0, 6),
    "x": (0.4, 0.0, 0.0, 6), "?": (0.3, 0.0, 0.0, 6),
    "r": (0.3, 0.5, 0.0, 7), "w": (0.15, 1.0, 0.0, 7),
}  # fmt: skip
_SILENCE = (0.0, 0.0, 0.0, 0)


def phoneme_targets(name: str) -> tuple[float, float, float, int]:
    """Articulatory targets of an eSpeak NG phoneme mnemonic (stress marks ignored)."""
    base = name.lstrip("',%=")
    if not base or base.startswith("_") or base == "||":
        return _SILENCE
    if base in _CONSONANTS:
        return _CONSONANTS[base]
    core = base.rstrip("#2-/:;")
    if core in _CONSONANTS:
        return _CONSONANTS[core]
    first = base[0]
    if first in "uUwo" or base.startswith(("O", "0")):  # u:, U, oU, O:, OI, 0 ...
        return (0.5, 0.9, 0.0, 7)
    if first in "aAV":  # a, A:, aI, aU, V
        return (1.0, 0.0, 0.1, 8)
    if first in "iIj" or base.startswith("eI"):
        return (0.35, 0.0, 0.9, 10)
    if first in "eE3@":
        return (0.6, 0.0, 0.3, 9)
    return (0.35, 0.0, 0.0, 6)  # anything unknown: a neutral, slightly open consonant


def viseme_track(
    phonemes: list[tuple[str, float]], end_s: float, n_frames: int, fps: float = float(FPS), offset_s: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Frame-level (openness, rounding, spreading) float32[T,3] and viseme class int16[T].

    ``phonemes``: (mnemonic, start seconds in the clip), sorted; ``end_s``: end of the last phoneme.
    Computed on a 5 ms grid, smoothed with sigma 20 ms, averaged over each 40 ms frame."""
    step = 0.005
    n = int(round(n_frames / fps / step))
    t = (np.arange(n) + 0.5) * step - offset_s
    target = np.zeros((n, 3))
    cls_grid = np.zeros(n, np.int16)
    bilabial = np.zeros(n, bool)
    bounds = [s for _, s in phonemes] + [end_s]
    for (name, start), stop in zip(phonemes, bounds[1:]):
        o, r, s, c = phoneme_targets(name)
        sel = (t >= start) & (t < stop)
        target[sel] = (o, r, s)
        cls_grid[sel] = c
        if c == 1:
            mid, half = 0.5 * (start + stop), 0.3 * (stop - start)
            bilabial |= (t >= mid - half) & (t <= mid + half)
    k = np.exp(-0.5 * (np.arange(-12, 13) * step / 0.02) ** 2)
    k /= k.sum()
    smooth = np.stack([np.convolve(np.pad(target[:, j], 12, mode="edge"), k, "valid") for j in range(3)], 1)
    smooth[bilabial, 0] = 0.0
    per = n // n_frames
    frames = smooth[: per * n_frames].reshape(n_frames, per, 3).mean(1)
    classes = cls_grid[per // 2 :: per][:n_frames]
    return frames.astype(np.float32), classes.astype(np.int16)
