"""Archive extraction that cannot write outside its destination.

Every member is checked *before* anything is written: absolute paths, ``..`` components, and links or
devices are rejected (a malicious or corrupt archive must fail as a whole, not half-way). Members are
unpacked into a hidden temporary folder inside the destination and moved into place only after the whole
archive extracted, so a failure leaves the destination as it was.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath


class UnsafeArchiveError(RuntimeError):
    """An archive member would escape the destination or is not a plain file/folder."""


def _check_name(name: str) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise UnsafeArchiveError(f"unsafe member path {name!r}")


def _members_zip(zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        _check_name(info.filename)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UnsafeArchiveError(f"symlink member {info.filename!r}")


def _members_tar(tf: tarfile.TarFile) -> None:
    for m in tf.getmembers():
        _check_name(m.name)
        if not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(f"member {m.name!r} is not a regular file or folder")


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Extract a .zip / .tar(.gz|.bz2|.xz) into ``dest``; returns the top-level names placed there."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _members_zip(zf)
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                _members_tar(tf)
                tf.extractall(tmp, filter="data")
        else:
            raise UnsafeArchiveError(f"{archive.name}: not a zip or tar archive")
        placed = []
        for item in sorted(tmp.iterdir()):
            _merge(item, dest / item.name)
            placed.append(item.name)
        return placed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _merge(src: Path, dst: Path) -> None:
    """Move ``src`` onto ``dst``, merging folders (several RAVDESS zips share Actor_NN/ folders)."""
    if src.is_dir() and dst.is_dir():
        for child in src.iterdir():
            _merge(child, dst / child.name)
    else:
        if dst.is_dir():
            shutil.rmtree(dst)
        shutil.move(str(src), str(dst))
