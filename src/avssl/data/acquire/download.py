"""Resumable, verified HTTP downloads (urllib only).

Bytes go to ``<dest>.part``; an interrupted transfer is resumed with a ``Range`` request from the part's
size (a server answering 200 instead of 206 restarts it from zero). Only a complete file whose checksum
matches is renamed onto ``dest`` (atomic ``os.replace``); a mismatch deletes the part and raises, so no
half or wrong file is ever left where a later step would trust it.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path

from avssl.data.acquire.checksum import ChecksumError, LockFile, file_digest

CHUNK = 1 << 16


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
    lock: LockFile | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    progress: bool = True,
    backoff_s: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` (skipped when ``dest`` exists and verifies); returns ``dest``.

    Expected checksum: ``sha256`` if given, else the lock file's record; with neither, the new file's
    sha256 is recorded in the lock file. ``md5`` (when published) is checked as well.
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
            if isinstance(exc, urllib.error.HTTPError) and exc.code < 500:
                raise
            if attempt == retries:
                raise RuntimeError(f"download of {url} failed after {retries + 1} attempts: {exc}") from exc
            time.sleep(backoff_s * (attempt + 1))
    got = file_digest(part)
    bad = (expected and got != expected) or (md5 and file_digest(part, "md5") != md5)
    if bad:
        part.unlink()
        raise ChecksumError(f"{dest.name}: sha256 {got} does not match expected {expected or '-'} (md5 {md5 or '-'}); file deleted")
    os.replace(part, dest)
    if lock is not None and lock.get(dest.name) is None:
        lock.record(dest.name, got)
    return dest
