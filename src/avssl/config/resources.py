"""The `resources` section: what each stage's jobs ask the scheduler for (CPUs, memory, wall time).

Why here and not in the SLURM profile: the right amount scales with the preset (the tiny corpus needs a
fraction of what LRS3 needs), so it travels with the params file that sets the sizes. Snakemake sees these
numbers as each rule's `threads` and `resources` (`mem_mb`, `runtime`); the SLURM executor turns them into
`--cpus-per-task`, `--mem` and `-t`, and the job receives the same count as `--threads {threads}`, so a job
uses exactly the CPUs it was given. Local runs cap `threads` at `--cores`. Changing a value re-runs nothing.

Only synthesize and preprocess_part spread work over processes (`threads`). The other stages run on one CPU:
training and evaluation pin torch to one thread (bit-identical results on any core count) and add
`train.num_workers` data-loader processes, so they ask for `1 + train.num_workers` CPUs per GPU process;
index, merge and report are serial. For those, only `mem_mb` and `runtime` are set here.
"""

from pydantic import Field

from avssl.config.base import Section


class JobResources(Section):
    threads: int = Field(1, ge=1, le=1024, description="CPUs per job (Snakemake threads, SLURM --cpus-per-task).")
    mem_mb: int = Field(4000, ge=100, description="Memory per job in MB (SLURM --mem).")
    runtime: int = Field(60, ge=1, description="Wall-time limit per job in minutes (SLURM -t).")


class SingleCpuResources(Section):
    """Stages whose work runs on one CPU (training and evaluation: one torch thread + data-loader workers)."""

    mem_mb: int = Field(8000, ge=100, description="Memory per job in MB (SLURM --mem).")
    runtime: int = Field(
        720, ge=1, description="Wall-time limit per attempt in minutes (SLURM -t); a training job that runs longer "
        "resumes from its checkpoint on the retry.",
    )


def _job(threads: int, mem_mb: int, runtime: int):
    return lambda: JobResources(threads=threads, mem_mb=mem_mb, runtime=runtime)


def _one(mem_mb: int, runtime: int):
    return lambda: SingleCpuResources(mem_mb=mem_mb, runtime=runtime)


class ResourcesParams(Section):
    synthesize: JobResources = Field(
        default_factory=_job(8, 8000, 120), description="Stage synthesize (worker processes render clips)."
    )
    index: SingleCpuResources = Field(default_factory=_one(4000, 120), description="Stage index (scans the dataset).")
    preprocess_part: JobResources = Field(
        default_factory=_job(8, 8000, 240),
        description="Each preprocess_part job (one shard group; face tracking in worker processes).",
    )
    preprocess: SingleCpuResources = Field(
        default_factory=_one(4000, 60), description="Stage preprocess (merges the parts with hard links)."
    )
    pretrain: SingleCpuResources = Field(default_factory=_one(16000, 720), description="Each pretrain job.")
    finetune: SingleCpuResources = Field(
        default_factory=_one(8000, 720), description="Each finetune job (pre-trained and scratch inits)."
    )
    evaluate: SingleCpuResources = Field(default_factory=_one(4000, 120), description="Each evaluate job.")
    report: SingleCpuResources = Field(default_factory=_one(4000, 30), description="Stage report.")
