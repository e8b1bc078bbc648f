"""Acquisition of the real corpora: verified resumable downloads for public ones, checks for licensed ones."""

from avssl.data.acquire.checksum import ChecksumError, LockFile, file_digest
from avssl.data.acquire.download import download
from avssl.data.acquire.extract import UnsafeArchiveError, safe_extract
from avssl.data.acquire.licensed import DatasetMissingError, verify
from avssl.data.acquire.run import fetch_public, run_acquire
from avssl.data.acquire.sources import PUBLIC, Archive, PublicDataset

__all__ = [
    "PUBLIC", "Archive", "ChecksumError", "DatasetMissingError", "LockFile", "PublicDataset", "UnsafeArchiveError",
    "download", "fetch_public", "file_digest", "run_acquire", "safe_extract", "verify",
]
