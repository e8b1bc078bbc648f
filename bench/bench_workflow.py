"""Whole-workflow figures (issue targets): wall time and peak memory of a full run, and of no-op re-runs.

    python bench/bench_workflow.py --directory .test     # tiny preset in a temporary copy (minutes)
    python bench/bench_workflow.py                       # default preset = `make run` (about 10 minutes)
    python bench/bench_workflow.py --configfile workflow/presets/default_statistics.yaml --keep /tmp/run

Runs `snakemake --cores N` in a fresh copy of the checkout, then times a no-op `snakemake` and, with the
preset as params.yaml, a no-op `dvc repro` after `dvc commit` of the finished outputs. Peak memory is the
largest resident set of any single process (its VmHWM, sampled every 0.5 s, or ru_maxrss of the children) and
the sampled total over all of them; "all" = every process whose environment carries this run's tag, which
includes the fork servers and the jobs they fork (not descendants of Snakemake).
Start-up per job: every stage job's log ends with ``done in X s (start-up Y s)``, Y = process creation until
the stage's own work begins (interpreter, imports incl. torch, params, provenance, opening the MLflow run).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def copy_checkout(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.name=b", "-c", "user.email=b@b",
                                                              "commit", "-qm", "bench"]):  # fmt: skip
        subprocess.run(cmd, cwd=dest, check=True)


TAG = f"AVSSL_BENCH_RUN={os.getpid()}"  # in the environment of every process the run starts, fork servers included


def tree_memory_kb() -> tuple[int, int]:
    """(total resident memory, largest peak resident memory of one process), in kB, of the processes this run
    started. Membership is the ``TAG`` in a process's initial environment: fork servers and the jobs they fork are
    not descendants of Snakemake (the server outlives the job that started it), so the parent chain misses them."""
    total = largest = 0
    tag = TAG.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if tag not in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                continue
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ":" in line)  # fmt: skip
            total += int(status.get("VmRSS", "0 kB").split()[0])
            largest = max(largest, int(status.get("VmHWM", "0 kB").split()[0]))
        except (OSError, ValueError):
            pass
    return total, largest


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, int, int]:
    """Wall seconds, peak total memory (kB) and the largest process's peak memory (kB) of ``cmd``."""
    peak = [0, 0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            total, largest = tree_memory_kb()
            peak[0], peak[1] = max(peak[0], total), max(peak[1], largest)
            time.sleep(0.5)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env={**env, TAG.split("=")[0]: TAG.split("=")[1]}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    done.set()
    return time.perf_counter() - t0, peak[0], peak[1]


def job_timings(logs: Path) -> list[tuple[str, float, float, bool]]:
    """(stage, stage work s, start-up s, forked) of every job log under ``logs``, from its ``done in X s (start-up
    Y s)`` line (``, forked)`` when a fork server ran it); the stage is the log's top folder (logs/finetune/...)
    or its name (logs/report.log)."""
    out = []
    for log in sorted(logs.rglob("*.log")):
        rel = log.relative_to(logs)
        stage = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        text = log.read_text(errors="replace")
        for m in re.finditer(r"done in ([\d.]+) s \(start-up ([\d.]+) s(, forked)?\)", text):
            out.append((stage, float(m.group(1)), float(m.group(2)), m.group(3) is not None))
    return out


def startup_figures(timings: list[tuple[str, float, float, bool]], logs: Path) -> str:
    """Median / min / max start-up over the job logs (see the module docstring)."""
    found = [startup for _, _, startup, _ in timings]
    forked = sum(1 for *_, f in timings if f)
    if not found:
        return f"start-up per job: no 'start-up' lines in {logs}"
    return (f"start-up per job (process start to stage work, {len(found)} job logs, {forked} forked): "
            f"median {statistics.median(found):.2f} s, min {min(found):.2f} s, max {max(found):.2f} s, "
            f"total {sum(found):.0f} s (target: median <= 1.5 s)")


def stage_work(timings: list[tuple[str, float, float, bool]]) -> str:
    """Seconds of stage work (the ``done in`` figures) summed per stage, largest first: where the time goes."""
    per: dict[str, list[float]] = {}
    for stage, work, *_ in timings:
        per.setdefault(stage, []).append(work)
    rows = sorted(per.items(), key=lambda kv: -sum(kv[1]))
    return "stage work (s, jobs): " + ", ".join(f"{k} {sum(v):.0f} ({len(v)})" for k, v in rows) + (
        f"; total {sum(sum(v) for v in per.values()):.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--directory", default=".", help="'.' = default preset (make run), '.test' = tiny preset")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--configfile", action="append", default=[],
                    help="overlay(s) passed to snakemake --configfile, e.g. workflow/presets/default_statistics.yaml")
    ap.add_argument("--keep", type=Path, help="run in this (new) folder and keep it, instead of a temporary one")
    args = ap.parse_args()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp) / "repo"
        root.mkdir(parents=True)
        copy_checkout(root)
        env["PYTHONPATH"] = str(root / "src")
        smk = [str(BIN / "snakemake"), "--cores", str(args.cores), "--directory", args.directory]
        if args.configfile:
            smk += ["--configfile", *args.configfile]
        full, peak_total, largest = timed(smk, root, env)
        maxrss = max(largest, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        noop, *_ = timed(smk, root, env)
        print(f"preset {args.directory!r}: full run {full:.0f} s on {args.cores} cores; peak memory: "
              f"{maxrss / 1024:.0f} MB largest process, {peak_total / 1024:.0f} MB all processes together")
        logs = root / args.directory / "logs"
        timings = job_timings(logs)
        print(startup_figures(timings, logs))
        print(stage_work(timings))
        print(f"no-op snakemake: {noop:.1f} s (target <= 5 s)")
        if args.directory == "." and not args.configfile:
            dvc = [str(BIN / "dvc")]
            subprocess.run(dvc + ["commit", "--force"], cwd=root, env=env, check=True, capture_output=True)
            noop_dvc, *_ = timed(dvc + ["repro"], root, env)
            print(f"no-op dvc repro (after dvc commit of the Snakemake outputs): {noop_dvc:.1f} s (target <= 3 s)")


if __name__ == "__main__":
    main()
