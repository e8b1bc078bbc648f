"""RAVEn pre-training throughput and model FLOP utilisation (MFU) on one device, the way the training loop steps.

    PYTHONPATH=src python bench/gpu_pretrain_mfu.py --device cuda [--batch 16 --frames 150] [--steps 30]
        [--bf16/--no-bf16] [--compile] [--peak-tflops 989] [--json FILE]
    torchrun --standalone --nproc_per_node=1 bench/gpu_pretrain_mfu.py --device cuda --ddp ...
    smoke test (CPU, seconds): --device cpu --size tiny --steps 2

One step = what avssl.training.loop runs for the RAVEn objective: forward under bf16 autocast (weights and
AdamW state float32; fused AdamW on CUDA), backward, clipping per optimiser, two AdamW steps, EMA of both
teachers. Default batch: 16 clips x 150 frames = 2,400 frames, the official per-GPU batch (raven.md).

Reported: median step time after warm-up (CUDA synchronised), frames/s (video frames of 40 ms, i.e. 25 frames
= 1 s of audio-visual speech), peak memory (torch.cuda.max_memory_allocated; CPU: peak RSS), FLOPs per step and
MFU = FLOPs / step time / peak. FLOPs are counted by torch.utils.flop_counter.FlopCounterMode over one eager
step: matmuls, convolutions and attention of the two teacher forwards, the student + predictor forwards and
the backward (elementwise ops, norms, optimiser and EMA not counted, the usual MFU convention). Peak: dense
bf16 tensor-core throughput without sparsity, 989 TFLOP/s for H100/H200 SXM (NVIDIA spec); other devices need
--peak-tflops (MFU is left out otherwise). --ddp (under torchrun) wraps the objective like the loop does with
several processes: SyncBatchNorm + DistributedDataParallel on an NCCL (CUDA) / gloo (CPU) group, here of
however many processes torchrun started (1 works), so the DDP path runs on a one-GPU machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

KNOWN_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0}  # dense bf16, SXM form factor, no sparsity
OTHER_FORM_FACTORS = ("NVL", "PCIe", "PCIE")  # lower clocks / power: their peaks differ, ask for --peak-tflops
TINY = dict(size="custom", layers=2, adim=64, heads=4, ffn=256, frontend_width=8, predictor_layers=1,
            predictor_width=64, predictor_heads=4, predictor_ffn=256)  # fmt: skip


def peak_tflops(device: torch.device, given: float | None) -> tuple[float | None, str]:
    if given:
        return given, "given (--peak-tflops)"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, val in KNOWN_PEAK_TFLOPS.items():
            if key in name and not any(f in name for f in OTHER_FORM_FACTORS):
                return val, f"{key} SXM dense bf16 spec"
    return None, "unknown (pass --peak-tflops)"


def make_batch(B: int, T: int, device: torch.device, generator: torch.Generator) -> dict:
    """Random clips with uneven lengths (the longest T), as a frame-count batch sampler produces them."""
    lengths = torch.tensor([max(1, T - (i * T) // (4 * B)) for i in range(B)])
    return {
        "video": torch.randn(B, T, 88, 88, generator=generator).to(device),
        "audio": torch.randn(B, T * 640, generator=generator).to(device),
        "lengths": lengths.to(device),
    }


def build(args, device: torch.device):
    from avssl.config.raven import RavenParams
    from avssl.training import distributed
    from avssl.training.raven import build_objective

    p = RavenParams(**TINY) if args.size == "tiny" else RavenParams(size=args.size)
    obj = build_objective(p).to(device).train()
    model = obj
    info = None
    if args.ddp:
        import torch.distributed as dist

        if "RANK" not in os.environ:
            raise SystemExit("--ddp needs torchrun (RANK/WORLD_SIZE/LOCAL_RANK in the environment)")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                    **({"device_id": device} if device.type == "cuda" else {}))
        info = dict(rank=dist.get_rank(), world_size=dist.get_world_size())
        obj = distributed.convert_sync_batchnorm(obj, device)
        ids = [device.index] if device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(obj, device_ids=ids)
    groups = obj.param_groups()
    fused = True if device.type == "cuda" else None
    opts = [torch.optim.AdamW(g["params"], lr=g["lr"], betas=g["betas"], weight_decay=g["weight_decay"], fused=fused)
            for g in groups]  # fmt: skip
    return obj, model, groups, opts, info


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--size", default="base", choices=["base", "large", "tiny"], help="tiny: smoke tests only")
    ap.add_argument("--batch", type=int, default=16, help="clips per step")
    ap.add_argument("--frames", type=int, default=150, help="frames of the longest clip (25 fps)")
    ap.add_argument("--steps", type=int, default=30, help="timed steps (after warm-up)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 3; 10 with --compile)")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                    help="bf16 autocast (default: on for CUDA, off for CPU)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the objective (as train.compile)")
    ap.add_argument("--ddp", action="store_true", help="under torchrun: SyncBN + DDP as the loop's multi-process path")
    ap.add_argument("--deterministic", action="store_true",
                    help="train.deterministic's settings (deterministic kernels, no TF32): does every kernel have one?")
    ap.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (default: known GPUs)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device (torch.cuda.is_available() is False)")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if args.device == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if args.deterministic:
        from avssl.training.determinism import configure_determinism

        configure_determinism(True, device.type == "cuda", compile=args.compile)
    bf16 = args.bf16 if args.bf16 is not None else device.type == "cuda"
    warmup = args.warmup if args.warmup is not None else (10 if args.compile else 3)
    torch.manual_seed(0)

    obj, model, groups, opts, ddp = build(args, device)
    gen = torch.Generator().manual_seed(0)
    batch = make_batch(args.batch, args.frames, device, gen)
    step_no = [0]

    def step(m) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = m(batch)
        for o in opts:
            o.zero_grad(set_to_none=True)
        out["loss"].backward()
        for g, o in zip(groups, opts):
            torch.nn.utils.clip_grad_norm_(g["params"], g["grad_clip"])
            o.step()
        step_no[0] += 1
        obj.on_step_end(step_no[0], 10_000)
        return out["loss"].detach()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:  # eager, before compiling
        loss0 = step(model)
    flops = counter.get_total_flops()
    runner = torch.compile(model) if args.compile else model
    for _ in range(warmup):
        step(runner)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, losses = [], []
    for _ in range(args.steps):
        t = time.perf_counter()
        losses.append(step(runner))
        sync()
        times.append(time.perf_counter() - t)
    last_loss = float(losses[-1])
    if not all(map(lambda v: torch.isfinite(v).item(), [loss0, *losses])):
        raise SystemExit(f"non-finite loss: first {float(loss0)}, last {last_loss}")
    step_s = statistics.median(times)
    frames = int(batch["lengths"].sum())
    peak, peak_src = peak_tflops(device, args.peak_tflops)
    if device.type == "cuda":
        mem_gb = torch.cuda.max_memory_allocated(device) / 2**30
    else:
        mem_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)
    res = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "size": args.size, "batch": args.batch, "frames_longest": args.frames,
        "frames_per_step": frames, "bf16": bf16, "compile": args.compile, "ddp": ddp,
        "deterministic": args.deterministic,
        "steps": args.steps, "warmup": warmup, "step_s": step_s, "frames_per_s": frames / step_s,
        "peak_mem_gb": mem_gb, "tflop_per_step": flops / 1e12, "achieved_tflops": flops / step_s / 1e12,
        "peak_tflops": peak, "peak_source": peak_src,
        "mfu": (flops / step_s / 1e12 / peak) if peak else None, "first_loss": float(loss0), "last_loss": last_loss,
    }  # fmt: skip
    rank = ddp["rank"] if ddp else 0
    if rank == 0:
        for k, v in res.items():
            print(f"{k:>16}: {v:.4g}" if isinstance(v, float) else f"{k:>16}: {v}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
    if ddp:
        import torch.distributed as dist

        dist.destroy_process_group()
    return res


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
