"""Deterministic, atomic file writing.

Atomic: write to a hidden temporary name in the same directory, then `os.replace`, so a crash never
leaves a half-written clip that a resumed run would mistake for a finished one. Deterministic: numpy's
`savez` stamps the zip entries with the current time, so the npz is written with a fixed timestamp.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path with the same suffix; rename it onto ``path`` on success."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """npz (readable by `np.load`) with fixed zip timestamps; ``meta`` is stored as JSON in `meta`."""
    arrays = dict(arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue())


def load_meta(path: Path) -> dict | None:
    """The `meta` dict of a finished clip's npz, or None if missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(bytes(z["meta"]).decode())
    except Exception:  # noqa: BLE001 - anything unreadable counts as unfinished
        return None


def write_text(path: Path, text: str) -> None:
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text)
