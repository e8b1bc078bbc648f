"""Acquisition of the real corpora: verified resumable downloads for public ones, checks for licensed ones."""

from avssl.data.acquire.checksum import ChecksumError, LockFile, file_digest
from avssl.data.acquire.download import AcquireError, download
from avssl.data.acquire.extract import ArchiveReadError, ExtractConflictError, UnsafeArchiveError, safe_extract
from avssl.data.acquire.licensed import DatasetMissingError, verify
from avssl.data.acquire.run import fetch_public, run_acquire
from avssl.data.acquire.sources import PUBLIC, Archive, PublicDataset

__all__ = [
    "PUBLIC", "AcquireError", "Archive", "ArchiveReadError", "ChecksumError", "DatasetMissingError",
    "ExtractConflictError", "LockFile", "PublicDataset", "UnsafeArchiveError",
    "download", "fetch_public", "file_digest", "run_acquire", "safe_extract", "verify",
]
