"""The numerics tags of a stage that does not use torch come from a cache, without importing torch (~1.3 s)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import env_with_venv

FACTS = """
import json, sys
{pre}
from avssl.tracking.provenance import numerics_environment
print(json.dumps([numerics_environment(), "torch" in sys.modules]))
"""


def _facts(tmp_path, pre=""):
    env = {**env_with_venv(), "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", FACTS.format(pre=pre)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_torch_facts_without_importing_torch(tmp_path):
    first, imported = _facts(tmp_path)  # no cache yet: imports torch once and caches its facts
    assert imported and first["torch"] and first["torch_cpu_capability"] and first["mkl"]
    again, imported = _facts(tmp_path)
    assert not imported and again == first
    assert first["numba"].startswith(__import__("numba").__version__ + " llvmlite ")  # the GRU loop's compiler
    # a process that set its own thread count reports it, and does not spoil the cache's default
    own, _ = _facts(tmp_path, pre="import torch; torch.set_num_threads(1)")
    assert own["torch_threads"] == "1"
    assert _facts(tmp_path)[0] == first
    cached = list((tmp_path / "avssl").glob("torch-facts-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["torch"] == first["torch"]
    # another thread setting is another cache entry, not a stale answer
    env_facts, imported = _facts(tmp_path, pre="import os; os.environ['OMP_NUM_THREADS'] = '1'")
    assert imported and env_facts["env.OMP_NUM_THREADS"] == "1" and env_facts["torch_threads"] == "1"


def test_numpy_blas_fact_does_not_depend_on_what_was_imported_first(tmp_path):
    """numba imports SciPy, whose own bundled OpenBLAS then loads too: the tag must still name NumPy's (a forked job,
    whose server imported numba, and the same job run plainly must record the same numerics environment)."""
    plain, _ = _facts(tmp_path)
    with_scipy, _ = _facts(tmp_path, pre="import scipy.linalg")
    assert plain.get("numpy_blas") and with_scipy.get("numpy_blas") == plain["numpy_blas"]
    assert with_scipy.get("numpy_blas_core") == plain.get("numpy_blas_core")
