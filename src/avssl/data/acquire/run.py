"""``run_acquire``: the `acquire` stage — download + verify a public corpus, or verify a licensed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avssl.data.acquire.checksum import LockFile, file_digest
from avssl.data.acquire.download import AcquireError, download
from avssl.data.acquire.extract import ExtractConflictError, UnsafeArchiveError, safe_extract
from avssl.data.acquire.licensed import CHECKS, verify
from avssl.data.acquire.sources import PUBLIC, PublicDataset
from avssl.tracking import NullRun

LOCK_NAME = "checksums.lock.json"


def _datasets_params(params: Any):
    from avssl.config.datasets import DatasetsParams

    return getattr(params, "datasets", None) or DatasetsParams()


def fetch_public(spec: PublicDataset, root: Path, download_dir: str = ".downloads", progress: bool = True) -> dict[str, int]:
    """Download every archive of ``spec`` under ``root/download_dir`` and extract it into ``root``.

    An extracted archive leaves a ``<archive>.done`` marker so re-runs neither re-download nor re-extract.
    An archive without a published checksum has its sha256 recorded in the lock file only once it opened
    and extracted: a corrupt (e.g. badly resumed) download is reported with the file to delete, never pinned.
    """
    ddir = root / download_dir
    lock = LockFile(ddir / LOCK_NAME)
    archives = list(spec.archives)
    if spec.manifest is not None:
        manifest = download(spec.manifest.url, root / spec.manifest.dest, spec.manifest.sha256, lock=lock, progress=progress)
        archives += spec.files_from_manifest(manifest.read_text(encoding="utf-8"), spec.extra.get("media_base", ""))
    extracted = placed = 0
    for arc in archives:
        if not arc.extract:
            download(arc.url, root / arc.dest, arc.sha256, arc.md5, lock=lock, progress=progress)
            placed += 1
            continue
        marker = ddir / (arc.filename + ".done")
        if marker.exists():
            continue
        path = download(arc.url, ddir / arc.filename, arc.sha256, arc.md5, lock=lock, progress=progress, record=False)
        _extract(path, root, lock, pinned=bool(arc.sha256 or lock.get(arc.filename)))
        if lock.get(arc.filename) is None and not arc.sha256:
            lock.record(arc.filename, file_digest(path))
        marker.write_text("ok\n")
        extracted += 1
    return {"archives_extracted": extracted, "files_placed": placed, "archives_total": len(archives)}


def _extract(path: Path, root: Path, lock: LockFile, pinned: bool) -> None:
    """safe_extract with a message that says how to retry when the archive itself is broken."""
    try:
        safe_extract(path, root)
    except (ExtractConflictError, UnsafeArchiveError):
        raise
    except Exception as exc:  # zipfile.BadZipFile, tarfile.ReadError, EOFError, zlib.error, CRC errors ...
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # disk full, permissions: not the archive's fault (the CLI explains those)
        trust = ("it matches the expected checksum, so the published file itself may be broken" if pinned
                 else f"its checksum was not recorded in {lock.path}")
        raise AcquireError(
            f"{path} does not open or extract as an archive ({type(exc).__name__}: {exc}); the download is "
            f"probably corrupt or truncated and {trust}. Delete {path} and re-run `avssl acquire` to download it again"
        ) from exc


def run_acquire(params: Any, dataset: str, root: str | Path, run=NullRun(), progress: bool = True) -> dict:
    """Download+extract (public corpora) or verify (licensed ones); logs the counts and returns them."""
    dp = _datasets_params(params)
    root = Path(root)
    if dataset in PUBLIC:
        root.mkdir(parents=True, exist_ok=True)
        result: dict = fetch_public(PUBLIC[dataset], root, dp.download_dir, progress)
        result["licence"] = PUBLIC[dataset].licence
    elif dataset in CHECKS:
        result = {f"files_{k}": v for k, v in verify(dataset, root, dp.min_files).items()}
    else:
        from avssl.registry import datasets

        spec = datasets.get(dataset)  # KeyError naming the registered datasets when it is not one
        raise AcquireError(f"{dataset}: its adapter ({spec.adapter}) declares neither SOURCE (a public download) nor "
                           f"CHECKS (a licensed release to verify); put the corpus under {root} yourself")
    run.log_metrics({k: float(v) for k, v in result.items() if isinstance(v, int)})
    run.set_tags({"dataset": dataset})
    return {"dataset": dataset, "root": str(root), **result}
