"""Provenance facts recorded on every run: code version, environment, hashes of inputs."""

from __future__ import annotations

import hashlib
import os
import re
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


NUMERICS_ENV_VARS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS")


def _cpu_facts() -> dict[str, str]:
    """CPU model and the instruction sets that change which kernels run (Linux /proc/cpuinfo; else platform)."""
    import platform

    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("unknown", "", "x86_64"):
                model = value.strip()
            elif key.strip() in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    isa = sorted(f for f in flags if f in {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile",
                                           "amx_bf16", "asimd", "sve"})
    return {"cpu_model": model, "cpu_isa": ",".join(isa) or "unknown"}


def numerics_environment() -> dict[str, str]:
    """What decides the last bits of a result on this machine, recorded as tags on every run.

    Same values here and on another machine -> bit-identical results are expected; otherwise only agreement
    within the confidence interval (kernels dispatched by CPU capability, oneDNN/MKL code paths and the
    thread count change the order of floating-point sums).

    The torch facts need torch imported (~1.3 s). A stage that does not use torch (synthesis, preprocessing)
    reads them from a small cache (in ~/.cache/avssl) written by the first such stage, which imports torch; the
    cache is keyed by the torch installation, the interpreter, the CPUs given to the process and every variable
    that changes the facts, and holds torch's default thread count (stages that use torch record their own).
    """
    facts = {**_cpu_facts()}
    facts.update({f"env.{k}": os.environ[k] for k in NUMERICS_ENV_VARS if k in os.environ})
    return {**facts, **_torch_facts(), **_numpy_blas_facts(), **_numba_facts()}


def _numba_facts() -> dict[str, str]:
    """numba and LLVM (llvmlite) versions: they compile the CPU GRU loop of avssl.models.gru for this CPU."""
    from importlib.metadata import PackageNotFoundError, version

    try:  # package metadata only: importing numba costs ~0.3 s
        return {"numba": f"{version('numba')} llvmlite {version('llvmlite')}"}
    except PackageNotFoundError:
        return {}


def _numpy_blas_facts() -> dict[str, str]:
    """NumPy's BLAS and the kernel family it picked for this CPU (any NumPy matrix product runs on it)."""
    try:
        import numpy  # noqa: F401 - loads its BLAS, which threadpoolctl then inspects
        from threadpoolctl import threadpool_info

        loaded = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # noqa: BLE001 - a fact we cannot read is left out, never a failed stage
        return {}
    # NumPy's own copy (numpy.libs/) when it bundles one, else a shared system BLAS; never SciPy's bundled copy,
    # which is loaded or not depending on what the process imported first (numba imports scipy), so choosing it
    # made the tag differ between a forked job and the same job run plainly.
    blas = [i for i in loaded if _in_package(i.get("filepath", ""), "numpy")] or [
        i for i in loaded if not _in_package(i.get("filepath", ""), "scipy")]  # fmt: skip
    if not blas:
        return {}
    return {"numpy_blas": f"{blas[0].get('internal_api')} {blas[0].get('version')}",
            "numpy_blas_core": str(blas[0].get("architecture"))}  # fmt: skip


def _in_package(path: str, package: str) -> bool:
    """Whether a library file lies in `package`'s folder or its wheel's bundled `<package>.libs`."""
    return any(part in (package, f"{package}.libs") for part in Path(path).parts)


_CACHE_ENV_VARS = NUMERICS_ENV_VARS + ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")


def _torch_cache_file() -> Path | None:
    """Where this installation's torch facts are cached, or None when torch is not installed."""
    import hashlib
    import importlib.util
    import json
    import sys

    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    version = Path(spec.origin).with_name("version.py")
    try:
        stat = version.stat()
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    except OSError:
        return None
    key = json.dumps([str(version), stat.st_mtime_ns, stat.st_size, sys.executable, cpus,
                      [os.environ.get(k) for k in _CACHE_ENV_VARS]])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "avssl"
    return cache / f"torch-facts-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _torch_facts() -> dict[str, str]:
    import json
    import sys

    cache = _torch_cache_file()
    if cache is None:
        return {}
    fresh = "torch" not in sys.modules  # imported here: torch_threads is still torch's default, cacheable
    if fresh:
        try:
            return json.loads(cache.read_text())
        except (OSError, ValueError):
            pass
    import torch

    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([\w.\-]+)", config)
    onednn = re.search(r"MKL-DNN v([\w.]+)", config)
    facts = {
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda),
        "cuda_available": str(torch.cuda.is_available()).lower(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl": mkl.group(1) if mkl else "none",
        "onednn": onednn.group(1) if onednn else "none",
        "torch_threads": str(torch.get_num_threads()),
    }
    if not fresh:  # the stage may have set its own thread count already
        return facts
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(facts))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home: every torch-less stage imports torch for its tags, as before
    return facts


def hash_file(path: str | Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
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
