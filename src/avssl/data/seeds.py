"""Derived seeds: one stable 63-bit seed per named random stream, from the master seed and the stream's name.

Why here, at the data level: per-sample augmentation (crop, flip, temporal crop) and batch order draw from
``derive_seed(seed, epoch, index)`` so that results do not depend on worker count or on resuming mid-epoch;
the training loop and the objectives derive their own streams the same way
(:mod:`avssl.training.determinism` re-exports it with the rest of what makes runs bit-identical).
"""

from __future__ import annotations

import hashlib


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from any tuple (e.g. (seed, epoch, index)); stable across processes and platforms."""
    digest = hashlib.blake2b("/".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)
