"""Pseudo-speakers: an eSpeak NG voice (variant x accent x base pitch) paired with a face identity.

Everything is drawn from the study seed, so a different seed gives different speakers. Split membership
is by speaker (train / val / test speaker sets are disjoint).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Annie", "linda", "steph")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "Andy")
ACCENTS = ("en-us", "en", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbclan")


@dataclass(frozen=True)
class Speaker:
    """Voice and face parameters of one pseudo-speaker (all plain numbers: picklable, CSV-able)."""

    speaker: str
    index: int
    split: str
    gender: str
    voice: str  # eSpeak NG voice name, e.g. "en-us+f3"
    pitch_offset: float  # added to the profile pitch (0-99 scale)
    range_offset: float
    rate_factor: float
    mirror: int  # face mirrored left-right
    face_scale: float  # relative face size
    face_rotation: float  # degrees, the speaker's habitual head tilt
    brightness: float  # added, in 0-255 units
    contrast: float
    skin_r: float  # colour gains on skin
    skin_g: float
    skin_b: float
    hair_tone: float  # gain on hair (darker < 1 < lighter)
    bg_r: float  # background colour (0-255)
    bg_g: float
    bg_b: float
    face_width: float  # horizontal stretch of the face
    face_length: float  # vertical stretch of the lower face
    jaw_width: float  # extra width of the jaw (fraction)

    def row(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def speaker_splits(n: int, n_val: int, n_test: int, rng: np.random.Generator) -> list[str]:
    """A seeded assignment of speakers to splits (exactly n_val val and n_test test speakers)."""
    order = rng.permutation(n)
    splits = ["train"] * n
    for rank, idx in enumerate(order):
        if rank < n_test:
            splits[idx] = "test"
        elif rank < n_test + n_val:
            splits[idx] = "val"
    return splits


def make_speakers(n: int, n_val: int, n_test: int, seed: int) -> list[Speaker]:
    """``n`` speakers alternating female/male, with seeded voice/accent/face parameters."""
    rng = np.random.default_rng([seed, 0x5BEA])
    splits = speaker_splits(n, n_val, n_test, rng)
    fem, mal = rng.permutation(FEMALE_VARIANTS), rng.permutation(MALE_VARIANTS)
    accents = rng.permutation(ACCENTS)
    out = []
    for i in range(n):
        female = i % 2 == 0
        pool = fem if female else mal
        variant = str(pool[(i // 2) % len(pool)])
        accent = str(accents[i % len(accents)])
        bg = rng.uniform(40, 230, 3)
        out.append(
            Speaker(
                speaker=f"s{i:02d}",
                index=i,
                split=splits[i],
                gender="f" if female else "m",
                voice=f"{accent}+{variant}",
                pitch_offset=float(rng.uniform(-12, 12)),
                range_offset=float(rng.uniform(-10, 10)),
                rate_factor=float(rng.uniform(0.9, 1.1)),
                mirror=int(rng.random() < 0.5),
                face_scale=float(rng.uniform(0.9, 1.1)),
                face_rotation=float(rng.uniform(-4, 4)),
                brightness=float(rng.uniform(-20, 20)),
                contrast=float(rng.uniform(0.85, 1.15)),
                skin_r=float(rng.uniform(0.75, 1.1)),
                skin_g=float(rng.uniform(0.75, 1.05)),
                skin_b=float(rng.uniform(0.7, 1.05)),
                hair_tone=float(rng.uniform(0.35, 1.3)),
                bg_r=float(bg[0]),
                bg_g=float(bg[1]),
                bg_b=float(bg[2]),
                face_width=float(rng.uniform(0.9, 1.12)),
                face_length=float(rng.uniform(0.9, 1.1)),
                jaw_width=float(rng.uniform(-0.06, 0.1)),
            )
        )
    return out
