"""Record a finished Snakemake run in DVC (dvc.lock + cache) without changing what Snakemake sees.

Why: Snakemake decides from modification times, DVC from hashes in dvc.lock. A Snakemake run leaves no
dvc.lock (so `dvc status` reports every stage changed), and a plain `dvc commit` rewrites some outputs
(empty files are copied, an output whose content is already cached is re-linked to the older cache file),
which gives them new or older mtimes, so Snakemake re-runs jobs. `commit_jobs` runs `dvc commit` for the
stages of the jobs Snakemake just finished and then puts every output's mtime back as it was. With a link
cache (.dvc/config: reflink, hardlink, symlink) the cache holds the artifacts without a second copy, so
`dvc push`/`dvc pull` work.

Import-light: the Snakefile's onsuccess hook calls it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from avssl import stages as stage_table

DISABLE_ENV = "AVSSL_DVC_SYNC"  # set to 0 to leave DVC alone after a Snakemake run


@dataclass(frozen=True)
class FinishedJob:
    """What the hook needs of a Snakemake job: its rule, wildcards and output paths."""

    rule: str
    wildcards: dict
    outputs: tuple[str, ...]


def stage_target(job: FinishedJob) -> str | None:
    """The dvc.yaml stage of a Snakemake job (`name` or `name@item`); None for rules DVC does not have."""
    stage = stage_table.BY_NAME.get(job.rule)
    if stage is None:
        return None
    if stage.grid is None:
        return stage.name
    return stage.name + "@" + "-".join(str(job.wildcards[w]) for w in stage.wildcards)


def skip_reason(root: Path, params_files: list[str], params: dict) -> str | None:
    """Why this run cannot be recorded in DVC (None: it can). DVC's state is the folder holding .dvc/ and
    dvc.yaml, for the jobs dvc.yaml lists: a run elsewhere (`--directory .test`), with overlays, or with a
    dvc.yaml rendered from other params would record something `dvc repro` would not run."""
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return f"{DISABLE_ENV}=0"
    import importlib.util

    if importlib.util.find_spec("dvc") is None:
        return f"DVC is not installed for {sys.executable}"
    if not (root / ".dvc").is_dir() or not (root / "dvc.yaml").is_file():
        return f"{root} is not a DVC project root (no .dvc/ or dvc.yaml)"
    if params_files != ["params.yaml"]:
        overlays = ", ".join(params_files[1:])
        return f"the run used --configfile overlays ({overlays}), dvc.yaml reads params.yaml only"
    import yaml

    current = yaml.safe_load((root / "dvc.yaml").read_text())
    if current != stage_table.to_dvc(params):
        return "dvc.yaml is stale for params.yaml (run `make dvc-yaml`, then run snakemake again)"
    return None


def _walk(path: Path) -> Iterable[Path]:
    yield path
    if path.is_dir() and not path.is_symlink():
        for base, dirs, files in os.walk(path):
            for name in dirs + files:
                yield Path(base) / name


def snapshot(outputs: Iterable[str]) -> dict[Path, int]:
    """mtime (ns, of the path itself) of every output and everything inside output folders."""
    out = {}
    for o in outputs:
        for p in _walk(Path(o)):
            try:
                out[p] = os.lstat(p).st_mtime_ns
            except FileNotFoundError:
                pass
    return out


def restore(before: dict[Path, int]) -> dict[str, int]:
    """Put back the mtimes of `before`; returns counts {"restored", "unshared"}.

    Paths DVC made hard links of one cache file share one mtime: where they need different ones (identical
    content made by different jobs) or the inode has links outside these outputs, the changed paths get their
    own copy (small files in practice) before their mtime is set.
    """
    now = {}
    for p in before:
        try:
            now[p] = os.lstat(p)
        except FileNotFoundError:
            continue
    restored = unshared = 0
    by_inode: dict[tuple[int, int], list[Path]] = {}
    files = {p for p in now if not os.path.isdir(p) or os.path.islink(p)}
    for p in files:
        by_inode.setdefault((now[p].st_dev, now[p].st_ino), []).append(p)
    for paths in by_inode.values():
        stale = [p for p in paths if now[p].st_mtime_ns != before[p]]
        if not stale:
            continue
        # one inode carries one mtime: paths that need another one, or whose inode has links outside this
        # run's outputs (besides DVC's cache file), get their own copy first
        foreign = now[paths[0]].st_nlink > len(paths) + 1
        keep = None if foreign else next((p for p in paths if p not in stale), paths[0])
        for p in stale:
            if p != keep and (foreign or before[p] != before[keep]) and not os.path.islink(p):
                tmp = p.with_name(f".{p.name}.avssl-unshare")
                shutil.copy2(p, tmp)
                os.replace(tmp, p)
                unshared += 1
            os.utime(p, ns=(now[p].st_atime_ns, before[p]), follow_symlinks=False)
            restored += 1
    dirs = sorted((p for p in now if p not in files), key=lambda p: len(p.parts), reverse=True)
    for p in dirs:  # deepest first: restoring a folder's entries changes the folder's own mtime
        if os.lstat(p).st_mtime_ns != before[p]:
            os.utime(p, ns=(now[p].st_atime_ns, before[p]))
            restored += 1
    return {"restored": restored, "unshared": unshared}


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True)


def commit_jobs(root: Path, jobs: list[FinishedJob], log=print) -> dict:
    """`dvc commit --force` the stages of `jobs` whose record in dvc.lock is out of date, keeping every
    output's mtime. Returns {"targets": [...], "committed": [...], "restored": n, "unshared": n}."""
    targets = sorted({t for t in map(stage_target, jobs) if t})
    result = {"targets": targets, "committed": [], "restored": 0, "unshared": 0}
    if not targets:
        return result
    status = _dvc(root, "status", "--json", *targets)
    if status.returncode != 0:
        raise RuntimeError(f"dvc status failed:\n{status.stdout[-2000:]}{status.stderr[-2000:]}")
    import json

    changed = sorted(json.loads(status.stdout or "{}"))
    changed = [t for t in targets if t in changed]
    if not changed:
        return result
    outputs = [o for job in jobs if stage_target(job) in changed for o in job.outputs]
    before = snapshot(outputs)
    done = _dvc(root, "commit", "--force", "--quiet", *changed)
    counts = restore(before)  # also after a failed commit: whatever DVC re-linked gets its mtime back
    if done.returncode != 0:
        raise RuntimeError(f"dvc commit failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    result.update(committed=changed, **counts)
    return result


def ensure_plots_page(root: Path, log=print) -> None:
    """Write `.dvc/plots/page.html` (Vega inlined from the installed snakemake package) where it is missing: it
    is generated, not committed, so `dvc plots show` renders offline after any run."""
    page = root / ".dvc" / "plots" / "page.html"
    if page.parent.is_dir() and not page.exists():
        try:
            from avssl.plots_page import render_page

            page.write_text(render_page())
        except Exception as exc:  # noqa: BLE001 - the plots page must never fail a finished run
            log(f"DVC: could not write {page} ({exc}); run `avssl plots-page --output {page}`.")


def after_snakemake(workflow, params_files: list[str], params: dict, log=print) -> None:
    """Snakefile onsuccess hook: record the finished jobs in dvc.lock and DVC's cache, or say why not."""
    root = Path.cwd()
    ensure_plots_page(root, log)
    why = skip_reason(root, params_files, params)
    if why:
        log(f"DVC: dvc.lock not updated: {why}.")
        return
    jobs = [FinishedJob(j.rule.name, dict(j.wildcards.items()), tuple(str(o) for o in j.output))
            for j in workflow.dag.jobs]  # fmt: skip
    try:
        res = commit_jobs(root, jobs, log)
    except RuntimeError as exc:
        log(f"DVC: {exc}\nDVC: the outputs are complete; run `dvc commit` by hand to record them.")
        return
    if res["committed"]:
        log(f"DVC: committed {len(res['committed'])} stage(s) to dvc.lock and the cache; "
            f"{res['restored']} mtime(s) restored, {res['unshared']} shared link(s) copied.")  # fmt: skip
    else:
        log(f"DVC: dvc.lock already records the {len(res['targets'])} stage(s) of this run.")
