"""Archive extraction that cannot write outside its destination and never removes anything.

Every member is checked *before* anything is written: absolute paths, ``..`` components, and links or
devices are rejected (a malicious or corrupt archive must fail as a whole, not half-way). Members are
unpacked into a hidden temporary folder inside the destination and moved into place only after the whole
archive extracted, so a failure leaves the destination as it was.

Placing never deletes or overwrites what is already in the destination: folders are merged (several
RAVDESS zips share ``Actor_NN/``), an existing file with the same bytes is kept, and any other clash (a
member file where a folder or a different file exists, or the reverse) stops the extraction before the
first move, naming the path. The destination may hold the user's own files; we do not decide they can go.
"""

from __future__ import annotations

import filecmp
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath


class UnsafeArchiveError(RuntimeError):
    """An archive member would escape the destination or is not a plain file/folder."""


class ArchiveReadError(RuntimeError):
    """The file is not a readable zip/tar archive (corrupt or truncated download)."""


class ExtractConflictError(RuntimeError):
    """An archive member would replace something already in the destination (nothing was changed)."""


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
    """Extract a .zip / .tar(.gz|.bz2|.xz) into ``dest``; returns the top-level names placed there.

    Raises :class:`UnsafeArchiveError` for a dangerous archive and :class:`ExtractConflictError` when a
    member clashes with an existing entry of ``dest``; in both cases ``dest`` is left exactly as it was.
    """
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
            raise ArchiveReadError(f"{archive.name}: not a zip or tar archive (corrupt or truncated?)")
        items = sorted(tmp.iterdir())
        clashes = [c for item in items for c in _conflicts(item, dest / item.name)]
        if clashes:
            shown = "; ".join(clashes[:5]) + (f"; ... ({len(clashes)} in all)" if len(clashes) > 5 else "")
            raise ExtractConflictError(
                f"{archive.name}: not extracted into {dest}, nothing there was changed: {shown}. Move the "
                "existing entries out of the way (or extract into an empty folder) and re-run"
            )
        for item in items:
            _merge(item, dest / item.name)
        return [item.name for item in items]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _conflicts(src: Path, dst: Path) -> list[str]:
    """Why placing ``src`` onto ``dst`` would replace something (empty list: it would not)."""
    if not dst.exists():
        return [f"{dst} is a broken symbolic link"] if dst.is_symlink() else []
    if src.is_dir():  # a folder (or a link to one, e.g. a corpus moved to a bigger disk) is merged into
        if dst.is_dir():
            return [c for child in sorted(src.iterdir()) for c in _conflicts(child, dst / child.name)]
        return [f"member folder {dst.name}/ would replace the existing file {dst}"]
    if dst.is_dir():
        return [f"member file {dst.name} would replace the existing folder {dst}"]
    if not filecmp.cmp(src, dst, shallow=False):
        return [f"member file {dst.name} differs from the existing file {dst}"]
    return []


def _merge(src: Path, dst: Path) -> None:
    """Move ``src`` onto ``dst`` (checked by :func:`_conflicts`): merge folders, keep identical files."""
    if src.is_dir() and dst.is_dir():
        for child in src.iterdir():
            _merge(child, dst / child.name)
    elif not dst.exists():
        shutil.move(str(src), str(dst))
