"""One clear line for failures the user can fix: the CLI prints it instead of a Python traceback.

Why: a full disk, a dead network or an HTTP 404 is not a bug, and a traceback hides the one fact that
matters (which file or URL, what to do). Failures that are not recognised here are bugs and keep their
traceback; `avssl --verbose` shows the traceback for recognised ones too.
"""

from __future__ import annotations

import errno
import urllib.error

# Errors of avssl (and of its data checks) whose message already names the file/key and the fix.
USER_ERRORS = {
    "ParamsError", "PreprocessError", "SynthError", "AcquireError", "ChecksumError", "DatasetError",
    "DatasetMissingError", "CheckpointError", "ReproduceError", "FileNotFoundError", "UnsafeArchiveError",
    "ArchiveReadError", "ExtractConflictError", "TranscriptError", "UndeclaredParam",
}  # fmt: skip
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
NETWORK_ERRORS = {"ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout"}  # requests' names (MLflow server)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def failure_message(exc: BaseException) -> str | None:
    """The one-line explanation of ``exc``, or None when it is not a failure the user can fix (a bug)."""
    if type(exc).__name__ in USER_ERRORS:
        return str(exc)
    for e in _chain(exc):
        if (isinstance(e, OSError) and e.errno in DISK_FULL) or "No space left on device" in str(e) \
                or "database or disk is full" in str(e):
            where = getattr(e, "filename", None)
            what = f"while writing {where}" if where else f"({e})"
            return f"disk full {what}; free space on that disk (or write elsewhere) and re-run the same command"
    for e in _chain(exc):  # also when wrapped, e.g. by MLflow around requests' errors (a tracking server)
        if isinstance(e, urllib.error.HTTPError):
            return f"HTTP {e.code} {e.reason} from {e.url}; check the URL and the server, then re-run"
        if isinstance(e, urllib.error.URLError):
            return f"network error: {e.reason}; check the connection (or proxy) and re-run"
        if isinstance(e, (ConnectionError, TimeoutError)) or type(e).__name__ in NETWORK_ERRORS:
            return f"network error: {type(e).__name__}: {e}; check the connection (or proxy) and re-run"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}; check the folder's owner/permissions or write elsewhere"
    return None
