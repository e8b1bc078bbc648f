"""Provenance facts recorded on every run: code version, environment, hashes of inputs."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any, Mapping


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def git_state(cwd: str | Path | None = None) -> dict[str, str]:
    """Commit of the code that runs and whether its tree was dirty (MLflow does not record dirtiness)."""
    src = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd or src, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "workflow", "Snakefile"],
            cwd=cwd or src,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    return {"git_commit": commit or "unknown", "git_dirty": str(bool(status)).lower() if commit else "unknown"}


def torch_versions() -> dict[str, str]:
    try:
        import torch
    except ImportError:
        return {}
    return {
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda),
        "cuda_available": str(torch.cuda.is_available()).lower(),
    }


def hash_file(path: str | Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_files(paths: list[str | Path]) -> str:
    """One hash over several files (names + contents), e.g. a manifest plus its shards' index."""
    digest = hashlib.sha256()
    for path in sorted(str(p) for p in paths):
        digest.update(Path(path).name.encode())
        digest.update(hash_file(path).encode())
    return digest.hexdigest()


def _skipped(rel: Path) -> bool:
    """Temporary files, locks and an MLflow store inside the folder: they change with every run, not the data."""
    from avssl.tracking.store import is_store_entry

    return rel.name.endswith((".tmp", ".lock")) or any(is_store_entry(part) for part in rel.parts)


def fingerprint_dir(path: str | Path) -> str:
    """Cheap content hash of a data folder: its manifest (index.csv or metadata.csv) + every file's name and size.

    Recorded as the `input_hash` tag so `avssl reproduce` can tell whether the data still match a run.
    A file on its own (a real dataset's clip index, the input of `avssl preprocess --dataset`) is hashed by
    name and content: it is the manifest, and hashing the corpus' media would cost hours.
    """
    path = Path(path)
    if path.is_file():
        return hashlib.sha256(f"{path.name}:{hash_file(path)}".encode()).hexdigest()[:16]
    digest = hashlib.sha256()
    for manifest in ("index.csv", "metadata.csv"):
        if (path / manifest).is_file():
            digest.update(manifest.encode())
            digest.update(hash_file(path / manifest).encode())
            break
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not _skipped(p.relative_to(path))):
        digest.update(f"{file.relative_to(path)}:{file.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]
