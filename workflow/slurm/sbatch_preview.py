"""Print the sbatch line each rule's jobs would be submitted with, without SLURM.

    python workflow/slurm/sbatch_preview.py                      # the default preset (params.yaml)
    python workflow/slurm/sbatch_preview.py --directory .test    # the tiny preset
    AVSSL_SLURM_GPU=gres python workflow/slurm/sbatch_preview.py  # the other GPU request styles: gres, none

It dry-runs `snakemake --profile workflow/profiles/slurm -n` (extra arguments are passed on), reads each
job's threads and resources from the dry run and builds the submit command with the functions
snakemake-executor-plugin-slurm itself uses (`get_submit_command`, `set_gres_string`), so what it prints is
what sbatch would receive, minus the job name, comment and log path of a real submission.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]


class _Resources(dict):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def _value(text: str):
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def parse_dry_run(text: str) -> list[dict]:
    """One entry per planned job: rule, threads and resources, from the dry run's `rule X:` blocks."""
    jobs: list[dict] = []
    job: dict | None = None
    for line in text.splitlines():
        stripped = line.strip()
        m = re.match(r"^(local)?rule (\w+):", stripped)
        if m:  # local rules and the target rule `all` (no command) run in the Snakemake process, not in SLURM
            submitted = not m.group(1) and m.group(2) != "all"
            job = {"rule": m.group(2), "threads": 1, "resources": {}} if submitted else None
            if job:
                jobs.append(job)
        elif job is not None and stripped.startswith("threads:"):
            job["threads"] = int(stripped.split(":", 1)[1])
        elif job is not None and stripped.startswith("resources:"):
            items = stripped[len("resources:"):].split(", ")
            job["resources"] = {k.strip(): _value(v.strip()) for k, v in (i.split("=", 1) for i in items if "=" in i)}
    return jobs


def sbatch_line(job: dict) -> str:
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    res = _Resources({k: v for k, v in job["resources"].items() if v != "<TBD>"})
    fake = SimpleNamespace(resources=res, threads=job["threads"], name=job["rule"])
    account, partition = res.get("slurm_account", ""), res.get("slurm_partition", "")
    params = {
        "run_uuid": "<run-uuid>",
        "slurm_logfile": f"logs/slurm/rule_{job['rule']}/%j.log",
        "comment_str": f"rule_{job['rule']}",
        "account": f"-A {shlex.quote(account)}" if account else "",
        "partition": f"-p {shlex.quote(partition)}" if partition else "",
        "workdir": None,
    }
    settings = SimpleNamespace(requeue=True, no_requeue=False, qos=None, reservation=None)
    line = get_submit_command(fake, params, settings=settings) + set_gres_string(fake)
    return re.sub(r"\s+", " ", line).strip()


def preview(args: list[str], env: dict | None = None) -> dict[str, str]:
    """rule -> the sbatch line of its first job."""
    # A dry run caps threads at --cores (1 when unset); a real SLURM submission does not: lift the cap.
    cmd = ["snakemake", "--profile", str(REPO / "workflow/profiles/slurm"), "-n", "--cores", "1024", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    out: dict[str, str] = {}
    for job in parse_dry_run(proc.stdout + proc.stderr):
        out.setdefault(job["rule"], sbatch_line(job))
    return out


def main() -> None:
    print(f"# AVSSL_SLURM_GPU={os.environ.get('AVSSL_SLURM_GPU', 'gpus')}")
    for rule, line in preview(sys.argv[1:]).items():
        print(f"{rule:24s} {line}")


if __name__ == "__main__":
    main()
