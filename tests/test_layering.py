"""Imports point down the house: a room never imports from a room above it, and modules form no circle.

Rooms, bottom to top: the ground (config, tracking, stages, media, ...), data and report, models and
preprocessing, training, tasks, the CLI. Lazy imports inside functions count too. KNOWN lists the upward
imports that remain (each a candidate for moving code down), so that no new one slips in.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "avssl"
LEVEL = {"data": 1, "report": 1, "models": 2, "preprocessing": 2, "training": 3, "tasks": 4, "cli": 5, "forkserver": 5,
         "__main__": 6}  # the package's own __init__ (its lazy public API) is the front door too
KNOWN = {
    ("avssl.training.raven_probe", "avssl.tasks"),  # RAVEn's probe heads reuse the CTC head and decoder
    ("avssl.report.artifacts", "avssl.tasks"),  # reads evaluate's predictions.csv
    ("avssl.report.findings", "avssl.tasks"),  # paired bootstrap differences
}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("avssl.")}


def _level(module: str) -> int:
    if module == "avssl":
        return LEVEL["__main__"]
    return LEVEL.get(module.split(".")[1], 0)


GRAPH = {_module(p): _imports(p) for p in SRC.rglob("*.py")}


def test_no_room_imports_from_a_room_above_it():
    upward = set()
    for module, targets in GRAPH.items():
        for target in targets:
            if _level(target) > _level(module):
                upward.add((module, ".".join(target.split(".")[:2])))
    assert upward <= KNOWN, sorted(upward - KNOWN)


def test_the_mouth_locators_do_not_import_each_other():
    """haar.py and landmarks.py share Track through preprocessing/track.py, not through locator.py."""
    for backend in ("avssl.preprocessing.haar", "avssl.preprocessing.landmarks"):
        assert not any(t.startswith("avssl.preprocessing.locator") for t in GRAPH[backend]), backend
    assert "avssl.preprocessing.track.Track" in GRAPH["avssl.preprocessing.locator"]
