"""File digests and the checksum lock file (trust on first use for sources without published checksums)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


class ChecksumError(RuntimeError):
    """A downloaded file does not hash to the expected value (it has been deleted)."""


def file_digest(path: Path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    h = hashlib.new(algorithm)
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class LockFile:
    """JSON map filename -> sha256, written atomically; the source of truth once a checksum is recorded."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict[str, str] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def get(self, filename: str) -> str | None:
        return self.entries.get(filename)

    def record(self, filename: str, sha256: str) -> None:
        self.entries[filename] = sha256
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True) + "\n")
        tmp.replace(self.path)
