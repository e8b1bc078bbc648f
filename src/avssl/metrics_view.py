"""`avssl metrics`: the DVC metrics files as one table per stage (per task for finetune/evaluate), wrapped to the
terminal width.

Why: `dvc metrics show` puts every metrics file in one table whose columns are the union of all keys (over 200
for the tiny DAG), unreadable in a terminal. The files are the same ones dvc.yaml declares (the stage table).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from avssl.stages import STAGES, strip_dir

PER_TASK = ("finetune", "finetune_scratch", "finetune_frozen", "evaluate", "evaluate_frozen")
# one table for the finetune rules, one for the evaluate rules
GROUP_NAMES = {"finetune_scratch": "finetune", "finetune_frozen": "finetune", "evaluate_frozen": "evaluate"}


def flatten(data: dict, prefix: str = "") -> dict[str, object]:
    """Nested JSON -> dotted keys (lists skipped, as DVC does); the evaluate files' `conditions.` prefix dropped."""
    out: dict[str, object] = {}
    for key, value in data.items():
        name = prefix + key if prefix or key != "conditions" else ""
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}." if name else ""))
        elif not isinstance(value, list):
            out[name] = value
    return out


def collect(params: dict, root: Path = Path(".")) -> dict[str, list[tuple[str, dict]]]:
    """{group title: [(row label, flat metrics)]} for every metrics file of the DAG that exists."""
    groups: dict[str, list[tuple[str, dict]]] = {}
    for stage in STAGES:
        for job in stage.jobs(params):
            fields = [w for w in stage.wildcards if not (stage.name in PER_TASK and w == "task")]
            label = "-".join(str(job[w]) for w in fields) or stage.name
            title = GROUP_NAMES.get(stage.name, stage.name) + (f" ({job['task']})" if stage.name in PER_TASK else "")
            for pattern in stage.metrics:
                path = root / strip_dir(pattern).format(**job)
                if path.is_file():
                    groups.setdefault(title, []).append((label, flatten(json.loads(path.read_text()))))
    return groups


def _cell(value: object, precision: int) -> str:
    if isinstance(value, float):
        return f"{value:.{precision}g}"
    return "" if value is None else str(value)


def render_group(title: str, rows: list[tuple[str, dict]], width: int, precision: int = 4) -> str:
    """One table: a row per job, a column per key; columns that do not fit `width` continue in another block.
    A single file is listed as key/value pairs in as many columns as fit."""
    if len(rows) == 1:
        items = [(k, _cell(v, precision)) for k, v in rows[0][1].items()]
        cell = max((len(k) + len(v) + 4 for k, v in items), default=1)
        per_line = max(1, width // cell)
        lines = ["".join(f"{k}  {v}".ljust(cell) for k, v in items[i : i + per_line]).rstrip()
                 for i in range(0, len(items), per_line)]  # fmt: skip
        return "\n".join([f"== {title}: {rows[0][0]}", *lines, ""])
    keys: list[str] = []
    for _, metrics in rows:
        keys += [k for k in metrics if k not in keys]
    labels = [label for label, _ in rows]
    cells = {k: [_cell(m.get(k), precision) for _, m in rows] for k in keys}
    first = max(len(title), *(len(s) for s in labels)) + 2
    widths = {k: max(len(k), *(len(c) for c in cells[k])) + 2 for k in keys}
    blocks, block, used = [], [], first
    for k in keys:
        if block and used + widths[k] > width:
            blocks.append(block)
            block, used = [], first
        block.append(k)
        used += widths[k]
    blocks.append(block)
    out = [f"== {title}: {len(rows)} file{'s' if len(rows) > 1 else ''}"]
    for block in blocks:
        out.append("".ljust(first) + "".join(k.rjust(widths[k]) for k in block))
        for i, label in enumerate(labels):
            out.append(label.ljust(first) + "".join(cells[k][i].rjust(widths[k]) for k in block))
        out.append("")
    return "\n".join(out)


def render(params: dict, root: Path = Path("."), stage: str | None = None, width: int | None = None) -> str:
    width = width or shutil.get_terminal_size((120, 24)).columns
    groups = collect(params, root)
    if stage:
        groups = {t: r for t, r in groups.items() if t.split(" ")[0] == GROUP_NAMES.get(stage, stage)}
    if not groups:
        return "no metrics files yet" + (f" for stage {stage}" if stage else "") + "\n"
    return "\n".join(render_group(t, rows, width) for t, rows in groups.items())
