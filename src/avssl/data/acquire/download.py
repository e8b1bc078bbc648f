"""Resumable, verified HTTP downloads (urllib only).

Bytes go to ``<dest>.part``; an interrupted transfer is resumed with a ``Range`` request from the part's
size (a server answering 200 instead of 206 restarts it from zero). Only a complete file whose checksum
matches is renamed onto ``dest`` (atomic ``os.replace``); a mismatch deletes the part and raises, so no
half or wrong file is ever left where a later step would trust it.

Failures a user can act on (HTTP 4xx, the network still down after the retries, a full disk) raise
:class:`AcquireError`, whose one-line message names the URL or file and what to do; the CLI prints it
without a traceback.
"""

from __future__ import annotations

import errno
import os
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path

from avssl.data.acquire.checksum import ChecksumError, LockFile, file_digest

CHUNK = 1 << 16
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class AcquireError(RuntimeError):
    """A download or extraction failed for a reason the user can fix; the message says how."""


def _progress(total: int | None, initial: int, name: str, enabled: bool):
    if not enabled:
        return None
    from avssl.progress import progress

    return progress(total=total, initial=initial, unit="B", unit_scale=True, desc=name, leave=False)


def _fetch_once(url: str, part: Path, timeout: float, progress: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "avssl-acquire", **({"Range": f"bytes={have}-"} if have else {})})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range not satisfiable: the part is already complete
            return
        raise
    with resp:
        if have and resp.status != 206:
            have = 0  # server ignored the range: start over
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        bar = _progress(total, have, part.name, progress)
        with part.open("ab" if have else "wb") as fh:
            while block := resp.read(CHUNK):
                fh.write(block)
                if bar is not None:
                    bar.update(len(block))
        if bar is not None:
            bar.close()
        if total is not None and part.stat().st_size < total:
            raise HTTPException(f"connection closed at {part.stat().st_size} of {total} bytes")


def download(
    url: str,
    dest: Path,
    sha256: str | None = None,
    md5: str | None = None,
    *,
    lock: LockFile | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    progress: bool = True,
    backoff_s: float = 1.0,
    record: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (skipped when ``dest`` exists and verifies); returns ``dest``.

    Expected checksum: ``sha256`` if given, else the lock file's record; with neither, the new file's
    sha256 is recorded in the lock file, unless ``record=False``: an archive's caller records it only after
    the archive opened and extracted (a corrupt file must never become the trusted hash). ``md5`` (when
    published) is checked as well.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    expected = sha256 or (lock.get(dest.name) if lock else None)
    if dest.exists():
        if expected is None or file_digest(dest) == expected:
            return dest
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, part, timeout, progress)
            break
        except (OSError, HTTPException) as exc:
            _give_up_now(exc, url, part)
            if attempt == retries:
                raise AcquireError(
                    f"download of {url} failed after {retries + 1} attempts ({_reason(exc)}); check the network "
                    f"connection (or proxy) and re-run: the {_size(part)} already in {part} are kept and resumed"
                ) from exc
            time.sleep(backoff_s * (attempt + 1))
    got = file_digest(part)
    bad = (expected and got != expected) or (md5 and file_digest(part, "md5") != md5)
    if bad:
        part.unlink()
        pinned = lock is not None and not sha256 and expected is not None
        hint = (f" The expected sha256 was recorded in {lock.path} by an earlier download; if that one was "
                f"corrupt, delete the entry {dest.name!r} from that file and re-run." if pinned else "")
        raise ChecksumError(
            f"{dest.name}: sha256 {got} does not match expected {expected or '-'} (md5 {md5 or '-'}); file deleted."
            + hint
        )
    os.replace(part, dest)
    if record and lock is not None and lock.get(dest.name) is None:
        lock.record(dest.name, got)
    return dest


def _give_up_now(exc: BaseException, url: str, part: Path) -> None:
    """Raise AcquireError for failures a retry cannot fix: HTTP 4xx, a full disk, no permission."""
    if isinstance(exc, urllib.error.HTTPError) and exc.code < 500:
        what = "not found (404)" if exc.code == 404 else f"refused: HTTP {exc.code} {exc.reason}"
        raise AcquireError(
            f"download of {url} {what}; the URL in avssl.data.acquire.sources may be outdated or the server "
            "needs access rights: check the dataset's homepage, then re-run"
        ) from exc
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        raise AcquireError(
            f"disk full while writing {part}; free space on that disk and re-run (the {_size(part)} already "
            "downloaded are kept and resumed)"
        ) from exc
    if isinstance(exc, PermissionError):
        raise AcquireError(f"cannot write {exc.filename or part}: permission denied; choose a writable --root") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"network error: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _size(part: Path) -> str:
    n = part.stat().st_size if part.exists() else 0
    return f"{n} bytes"
