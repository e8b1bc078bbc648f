"""The public corpora's download sources, gathered from their adapters' ``SOURCE`` (avssl.registry.datasets).

Checksums are recorded where a published value is known; ``None`` means unknown, in which case the first
download that opens and extracts records its sha256 in the lock file (``<root>/.downloads/checksums.lock.json``)
and every later download must match it (trust on first use, but never silently drift, and never pin a
corrupt file).
"""

from __future__ import annotations

from avssl.data.datasets.acquisition import Archive, PublicDataset
from avssl.data.datasets.crema_d import crema_d_files
from avssl.registry import datasets

__all__ = ["PUBLIC", "Archive", "PublicDataset", "crema_d_files"]


def _public() -> dict[str, PublicDataset]:
    sources = {d.name: getattr(d.load(), "SOURCE", None) for d in datasets.DATASETS if d.access == "public"}
    return {name: spec for name, spec in sources.items() if spec is not None}


PUBLIC: dict[str, PublicDataset] = _public()
