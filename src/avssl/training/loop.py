"""The one training loop: every method (RAVEn, Shukla, fine-tuning) is a PretrainObjective trained here.

``train(objective, dataset, cfg, out_dir)`` is the whole recipe: one AdamW per ``objective.param_groups()``
entry, linear warm-up + per-step cosine, gradient clipping per optimiser, ``objective.on_step_end`` after
every step (EMA teachers), rank-0 logging every ``cfg.log_every`` steps, and a resumable checkpoint in
``out_dir/checkpoints/last.pt`` every ``cfg.checkpoint_every`` steps, at the end and on SIGTERM/SIGUSR1
(SLURM preemption). Re-running after any kill resumes from that checkpoint and, on CPU, ends bit-identical
to an uninterrupted run: all randomness is either derived from (seed, epoch, index) or saved.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from avssl.config.train import TrainParams
from avssl.data.batching import FrameBatchSampler, collate
from avssl.tracking.run import NullRun
from avssl.training import checkpointing, determinism, distributed
from avssl.training.adamw import make_adam
from avssl.training.schedules import build_scheduler

DEFAULT_GRAD_CLIP = 3.0
# Settings that shape the trajectory: a checkpoint written with other values cannot be resumed.
_FINGERPRINT_FIELDS = (
    "steps", "epochs", "batch_frames", "max_frames", "batch_multiple", "num_buckets", "lr", "min_lr",
    "weight_decay", "betas", "warmup_fraction", "grad_clip", "seed_offset", "bf16",
)  # fmt: skip


class Preempted(RuntimeError):
    """Raised after the checkpoint written on SIGTERM/SIGUSR1: re-run the job to resume."""

    def __init__(self, step: int):
        super().__init__(f"preempted at step {step}; checkpoint written, re-run to resume")
        self.step = step


@dataclass
class _Optim:
    name: str
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    params: list[torch.Tensor]
    clip: float


@dataclass
class _Window:
    """Sums over the steps since the last log (tensors stay on device: no sync per step)."""

    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    grad_norms: dict[str, torch.Tensor] = field(default_factory=dict)
    steps: int = 0
    frames: int = 0
    start: float = field(default_factory=time.perf_counter)

    def add(self, out: dict[str, torch.Tensor], norms: dict[str, torch.Tensor], frames: int) -> None:
        for k, v in out.items():
            if torch.is_tensor(v) and v.numel() == 1:
                v = v.detach().float()
                self.terms[k] = self.terms[k] + v if k in self.terms else v
        for k, v in norms.items():
            self.grad_norms[k] = self.grad_norms[k] + v if k in self.grad_norms else v
        self.steps += 1
        self.frames += frames

    def state_dict(self) -> dict:
        """Partial sums, so a resumed run logs the same window means as an uninterrupted one."""
        cpu = lambda d: {k: v.detach().cpu().clone() for k, v in d.items()}  # noqa: E731
        return {"terms": cpu(self.terms), "grad_norms": cpu(self.grad_norms), "steps": self.steps, "frames": self.frames}

    @classmethod
    def from_state(cls, state: dict, device: torch.device) -> "_Window":
        to = lambda d: {k: v.to(device) for k, v in d.items()}  # noqa: E731
        return cls(to(state["terms"]), to(state["grad_norms"]), state["steps"], state["frames"])


def _optimizers(objective: nn.Module, cfg: TrainParams, total: int, warmup: int, fused: bool) -> list[_Optim]:
    """One AdamW (or Adam: ``"optimizer": "adam"``) per param-group dict; a dict's ``params`` may itself be a
    list of torch param groups (layer-wise lr decay). Missing lr / weight_decay / betas / min_lr / grad_clip /
    warmup_fraction come from ``cfg`` (grad_clip: ``cfg.grad_clip`` overrides the objective when set)."""
    default_clip = cfg.grad_clip if cfg.grad_clip is not None else getattr(objective, "grad_clip", DEFAULT_GRAD_CLIP)
    out = []
    for i, g in enumerate(objective.param_groups()):
        params = list(g["params"])
        floor = g.get("min_lr", cfg.min_lr)
        groups = (
            [{"min_lr": floor, **p, "params": list(p["params"])} for p in params]
            if params and isinstance(params[0], dict)
            else [{"params": params, "min_lr": floor}]
        )
        flat = [p for grp in groups for p in grp["params"]]
        kind = str(g.get("optimizer", "adamw")).lower()
        if kind not in ("adamw", "adam"):
            raise ValueError(f"param group {g.get('name', i)}: optimizer {kind!r} not supported (adamw, adam)")
        opt = make_adam(
            groups, kind=kind, lr=g.get("lr", cfg.lr), weight_decay=g.get("weight_decay", cfg.weight_decay),
            betas=tuple(g.get("betas", cfg.betas)), eps=g.get("eps", 1e-8), fused=fused,
        )
        # A group may set its own warm-up (RAVEn: the published recipe's epochs of the schedule).
        group_warmup = int(round(g["warmup_fraction"] * total)) if g.get("warmup_fraction") is not None else warmup
        sched = build_scheduler(opt, total, group_warmup, cfg.min_lr)
        clip = g.get("grad_clip", default_clip) if cfg.grad_clip is None else cfg.grad_clip
        out.append(_Optim(str(g.get("name", f"group{i}")), opt, sched, flat, float(clip or 0.0)))
    return out


def _generators(objective: nn.Module) -> dict[str, Any]:
    """Private random streams of the objective: torch.Generator and numpy Generator attributes of its modules
    and of their plain helper objects (e.g. a masking stream, the noise augmenter's ``rng``).

    They are not in ``state_dict()``, so the loop checkpoints them itself (per process).
    """
    out: dict[str, Any] = {}
    for name, module in objective.named_modules():
        prefix = f"{name}." if name else ""
        for attr, value in vars(module).items():
            if isinstance(value, (torch.Generator, np.random.Generator)):
                out[prefix + attr] = value
            elif not isinstance(value, (nn.Module, torch.Tensor, dict, list, tuple, str, int, float, type(None))):
                for sub, inner in getattr(value, "__dict__", {}).items():
                    if isinstance(inner, (torch.Generator, np.random.Generator)):
                        out[f"{prefix}{attr}.{sub}"] = inner
    return out


def _generator_state(gen: Any) -> Any:
    """A tensor (torch) or a dict of str/int (numpy): both load with ``weights_only=True``."""
    return gen.get_state() if isinstance(gen, torch.Generator) else gen.bit_generator.state


def _set_generator_state(gen: Any, state: Any) -> None:
    if isinstance(gen, torch.Generator):
        gen.set_state(state)
    else:
        gen.bit_generator.state = state


def _reseed_generator(gen: Any, name: str, rank: int) -> None:
    """Give a private stream a per-process seed (DDP: otherwise every process draws the same numbers)."""
    if isinstance(gen, torch.Generator):
        gen.manual_seed(determinism.derive_seed(gen.initial_seed(), name, rank))
    else:
        first = gen.bit_generator.random_raw()  # a value of the stream as seeded, mixed with name and rank
        gen.bit_generator.state = type(gen.bit_generator)(determinism.derive_seed(int(first), name, rank)).state


def clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_(params, max_norm)`` (2-norm), the same operations in the same order, so
    bit-identical; without its per-call grouping of the gradients by device and dtype, list copies and three
    ``no_grad`` wrappers (a fifth of a small head's optimiser time). Mixed devices or dtypes go to torch's."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    first = grads[0]
    if first.device.type not in ("cpu", "cuda") or any(g.device != first.device or g.dtype != first.dtype
                                                       or g.is_sparse for g in grads):  # fmt: skip
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    with torch.no_grad():
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
        coef = torch.clamp(float(max_norm) / (total + 1e-6), max=1.0)
        torch._foreach_mul_(grads, coef)
    return total


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # workers only slice and normalise arrays; don't fight the main process for cores


def _fingerprint(cfg: TrainParams, seed: int) -> dict[str, Any]:
    fp = {k: getattr(cfg, k) for k in _FINGERPRINT_FIELDS}
    fp["betas"] = list(fp["betas"])
    fp["seed"] = seed
    return fp


def _loader(dataset: Any, sampler: FrameBatchSampler, cfg: TrainParams, collate_fn: Callable, seed: int, cuda: bool):
    # A private generator: creating a DataLoader iterator must not consume the global torch RNG.
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=cfg.num_workers,
        collate_fn=collate_fn,
        pin_memory=cuda,
        persistent_workers=cfg.num_workers > 0,
        worker_init_fn=_worker_init if cfg.num_workers > 0 else None,
        generator=gen,
    )


def total_steps(cfg: TrainParams, sampler: FrameBatchSampler) -> int:
    """``cfg.steps``, or with ``cfg.epochs`` the exact number of batches in those epochs."""
    if cfg.epochs is None:
        return cfg.steps
    return sum(len(sampler.global_batches(e)) for e in range(cfg.epochs))


def evaluate(
    model: nn.Module,
    dataset: Any,
    cfg: TrainParams,
    info: distributed.DistInfo,
    *,
    seed: int,
    max_batches: int,
    collate_fn: Callable = collate,
) -> dict[str, float]:
    """Mean of the objective's scalar outputs over the first ``max_batches`` val batches (eval mode, no grad).

    Runs under a forked RNG so it never changes the training streams.
    """
    sampler = FrameBatchSampler(
        dataset.lengths, cfg.batch_frames, num_buckets=cfg.num_buckets, shuffle=False, seed=seed,
        rank=info.rank, world_size=info.world_size, multiple_of=info.world_size,
    )  # fmt: skip
    loader = _loader(dataset, sampler, cfg.model_copy(update={"num_workers": 0}), collate_fn, seed, False)
    sums: dict[str, torch.Tensor] = {}
    n = 0
    was_training = model.training
    model.eval()
    devices = [info.device.index] if info.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        determinism.seed_everything(seed)
        with torch.autocast(info.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            for i, batch in enumerate(loader):
                if i >= max_batches:
                    break
                out = model(_to_device(batch, info.device))
                for k, v in out.items():
                    if torch.is_tensor(v) and v.numel() == 1:
                        sums[k] = sums.get(k, 0.0) + v.detach().float()
                n += 1
    model.train(was_training)
    if not n:
        return {}
    keys = sorted(sums)
    vals = distributed.all_reduce_sum(torch.stack([sums[k] for k in keys]).to(info.device), info) / info.world_size
    return {(k.replace("health/", "health_val/", 1) if k.startswith("health/") else f"val/{k}"): float(v) / n
            for k, v in zip(keys, vals.tolist())}


def train(
    objective: nn.Module,
    dataset: Any,
    cfg: TrainParams,
    out_dir: str | Path,
    run: NullRun = NullRun(),
    *,
    seed: int = 0,
    val_dataset: Any = None,
    collate_fn: Callable = collate,
    resume: bool = True,
    progress: bool = True,
    on_epoch_end: Callable[[int, nn.Module], None] | None = None,
    stateful: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``objective`` on ``dataset`` (map-style with ``.lengths``, keyed by ``(index, epoch)``).

    ``on_epoch_end(epoch, objective)`` runs on the main process after every complete epoch except the one
    training ends in (e.g. fine-tuning keeps per-epoch snapshots to average the last K).
    ``stateful``: the caller's training state (objects with ``state_dict()`` / ``load_state_dict()``, e.g. that
    snapshot buffer) saved in every checkpoint and restored on resume, so it is always consistent with the
    step it was saved at (state_dict values: tensors and plain Python values).

    Returns the final metrics (last logged window, validation, steps, seconds, throughput) and ``history``
    (every logged metrics dict, also across resumptions). Under torchrun every process calls this.
    """
    trainer = _Trainer(objective, cfg, run, seed=seed, ckpt_dir=Path(out_dir) / "checkpoints", stateful=stateful)
    trainer.setup(dataset, collate_fn)
    trainer.restore_or_seed(resume)
    with _preemption_flag() as preempt:
        trainer.run_epochs(preempt, progress, on_epoch_end)
    return trainer.final_metrics(val_dataset, collate_fn)


@contextlib.contextmanager
def _preemption_flag() -> Iterator[threading.Event]:
    """An event set by SIGTERM/SIGUSR1 (SLURM preemption) while the block runs; old handlers restored after."""
    preempt = threading.Event()
    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            old_handlers[sig] = signal.signal(sig, lambda *_: preempt.set())
    try:
        yield preempt
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


@dataclass
class _Position:
    """Where training stands: what a checkpoint records beyond weights, optimisers and random streams."""

    step: int = 0
    epoch: int = 0
    batch: int = 0  # batches done in the current epoch
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds_before: float = 0.0  # wall time of earlier runs that this one resumes
    frames_before: int = 0


class _Trainer:
    """One call of :func:`train`; its methods are the recipe's steps, in the order ``train`` runs them."""

    def __init__(self, objective: nn.Module, cfg: TrainParams, run: NullRun, *, seed: int, ckpt_dir: Path,
                 stateful: dict[str, Any] | None):
        self.objective, self.cfg, self.run, self.seed = objective, cfg, run, seed
        self.ckpt_dir = ckpt_dir
        self.stateful = stateful or {}
        self.fingerprint = _fingerprint(cfg, seed)
        self.pos = _Position()
        self.window_state: dict | None = None  # partial log sums of a resumed window
        self.frames_done = 0  # frames trained by this run (not earlier ones)
        self.t0 = time.perf_counter()

    def setup(self, dataset: Any, collate_fn: Callable) -> None:
        """Process group, determinism flags, the (DDP-wrapped, compiled) model, sampler, optimisers, loader."""
        cfg = self.cfg
        self.info = info = distributed.init_distributed(cfg.device)
        self.device = info.device
        cuda = self.device.type == "cuda"
        determinism.configure_determinism(cfg.deterministic, cuda, compile=cfg.compile)

        self.objective.to(self.device)
        model = distributed.wrap_ddp(self.objective, info, cfg.find_unused_parameters)  # converts BN first
        self.model = torch.compile(model) if cfg.compile else model

        multiple = math.lcm(cfg.batch_multiple, info.world_size)
        self.sampler = FrameBatchSampler(
            dataset.lengths, cfg.batch_frames, num_buckets=cfg.num_buckets, shuffle=True,
            seed=determinism.derive_seed(self.seed, "sampler"), rank=info.rank, world_size=info.world_size,
            multiple_of=multiple,
        )  # fmt: skip
        self.total = total_steps(cfg, self.sampler)
        warmup = int(round(cfg.warmup_fraction * self.total))
        self.optims = _optimizers(self.objective, cfg, self.total, warmup, fused=cuda)
        self.loader = _loader(dataset, self.sampler, cfg, collate_fn, self.seed, cuda)

    def restore_or_seed(self, resume: bool) -> None:
        """Continue from ``checkpoints/last.pt`` when there is one (and ``resume``), else seed every stream."""
        state = checkpointing.load_checkpoint(self.ckpt_dir) if resume else None
        if state is not None:
            self._restore(state)
            return
        info = self.info
        determinism.seed_everything(determinism.derive_seed(self.seed, "train", info.rank))
        if info.enabled:  # private streams would otherwise draw the same numbers on every process
            for name, gen in _generators(self.objective).items():
                _reseed_generator(gen, name, info.rank)

    def _restore(self, state: dict[str, Any]) -> None:
        ckpt_dir = self.ckpt_dir
        if state["fingerprint"] != self.fingerprint:
            old = state["fingerprint"]
            diff = {k: (old.get(k), v) for k, v in self.fingerprint.items() if old.get(k) != v}
            raise ValueError(f"{ckpt_dir}: checkpoint written with other settings {diff} (old, new); delete it to restart")
        self.objective.load_state_dict(state["objective"])
        for o, s in zip(self.optims, state["optimizers"]):
            o.optimizer.load_state_dict(s["optimizer"])
            o.scheduler.load_state_dict(s["scheduler"])
        self.pos = _Position(state["step"], state["epoch"], state["batch"], state["history"], state["seconds"],
                             state["frames"])  # fmt: skip
        per_rank = state["per_rank"]  # RNG streams and partial log sums of every process
        mine = per_rank[self.info.rank] if len(per_rank) == self.info.world_size else per_rank[0]
        self.window_state = mine["window"]
        determinism.set_rng_state(mine["rng"])
        for name, gen in _generators(self.objective).items():
            if name in mine.get("generators", {}):
                _set_generator_state(gen, mine["generators"][name])
        for name, obj in self.stateful.items():
            if name not in state.get("stateful", {}):
                raise ValueError(f"{ckpt_dir}: checkpoint has no {name!r} state; delete it to restart")
            obj.load_state_dict(state["stateful"][name])

    def save(self) -> None:
        """Write ``checkpoints/last.pt`` (main process) with every process's RNG streams and log sums."""
        pos, info = self.pos, self.info
        per_rank = distributed.gather_objects({
            "rng": determinism.rng_state(), "window": self.window.state_dict(),
            "generators": {k: _generator_state(g) for k, g in _generators(self.objective).items()},
        }, info)  # fmt: skip
        if info.is_main:
            checkpointing.save_checkpoint(self.ckpt_dir, {
                "step": pos.step, "epoch": pos.epoch, "batch": pos.batch, "fingerprint": self.fingerprint,
                "objective": self.objective.state_dict(),
                "optimizers": [{"optimizer": o.optimizer.state_dict(), "scheduler": o.scheduler.state_dict()}
                               for o in self.optims],
                "per_rank": per_rank, "history": pos.history,
                "seconds": pos.seconds_before + time.perf_counter() - self.t0,
                "frames": pos.frames_before + self.frames_done,
                "stateful": {k: obj.state_dict() for k, obj in self.stateful.items()},
            })  # fmt: skip
        distributed.barrier(info)

    def run_epochs(self, preempt: threading.Event, progress: bool,
                   on_epoch_end: Callable[[int, nn.Module], None] | None) -> None:
        """Step until ``total`` steps; checkpoint every ``checkpoint_every`` steps, at the end and on preemption."""
        pos, cfg = self.pos, self.cfg
        self.t0 = time.perf_counter()
        bar = None
        if progress and self.info.is_main:
            from avssl.progress import progress as progress_bar

            bar = progress_bar(total=self.total, initial=pos.step, desc="train", unit="step")
        self.window = _Window.from_state(self.window_state, self.device) if self.window_state else _Window()
        self.model.train()
        try:
            while pos.step < self.total:
                self.sampler.set_epoch(pos.epoch, pos.batch)
                epoch_start = time.perf_counter()
                for batch in self.loader:
                    self.train_step(batch, bar)
                    stop = distributed.any_process(preempt.is_set(), self.info)
                    if pos.step % cfg.checkpoint_every == 0 or pos.step == self.total or stop:
                        self.save()
                    if stop:
                        raise Preempted(pos.step)
                    if pos.step >= self.total:
                        break
                else:  # epoch exhausted
                    self.end_epoch(epoch_start, on_epoch_end)
        finally:
            if bar is not None:
                bar.close()

    def train_step(self, batch: dict[str, Any], bar: Any) -> None:
        """Forward, backward, clip and step every optimiser, EMA hook, then log when a window is full."""
        pos = self.pos
        frames = int(batch["lengths"].sum())
        batch = _to_device(batch, self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
            out = self.model(batch)
        for o in self.optims:
            for p in o.params:  # = optimizer.zero_grad(set_to_none=True) (o.params: all of its parameters)
                p.grad = None
        out["loss"].backward()
        norms = {}
        for o in self.optims:
            norms[o.name] = clip_grad_norm(o.params, o.clip if o.clip > 0 else float("inf"))
            o.optimizer.step()
            o.scheduler.step()
        pos.step += 1
        pos.batch += 1
        self.frames_done += frames
        extras = {k: float(v) for k, v in (self.objective.on_step_end(pos.step, self.total) or {}).items()}
        self.window.add(out, norms, frames)
        if bar is not None:
            bar.update(1)
        if pos.step % self.cfg.log_every == 0 or pos.step == self.total:
            self.log_window(extras, bar)

    def log_window(self, extras: dict[str, float], bar: Any) -> None:
        """Reduce the window's sums to means, append them to ``history``, log them (main process), reset."""
        pos = self.pos
        metrics = _reduce_window(self.window, self.optims, extras, self.info)
        metrics["epoch"] = float(pos.epoch)
        if not math.isfinite(metrics.get("train/loss", 0.0)):
            raise FloatingPointError(f"non-finite loss at step {pos.step}: {metrics}")
        pos.history.append({"step": pos.step, **metrics})
        if self.info.is_main:
            self.run.log_metrics(metrics, step=pos.step)
            if bar is not None:
                bar.set_postfix(loss=f"{metrics['train/loss']:.4f}")
        self.window = _Window()

    def end_epoch(self, epoch_start: float, on_epoch_end: Callable[[int, nn.Module], None] | None) -> None:
        pos = self.pos
        if self.info.is_main and pos.batch > 0:
            self.run.log_metrics({"perf/epoch_s": time.perf_counter() - epoch_start}, step=pos.step)
            if on_epoch_end is not None:
                on_epoch_end(pos.epoch, self.objective)
        pos.epoch, pos.batch = pos.epoch + 1, 0

    def final_metrics(self, val_dataset: Any, collate_fn: Callable) -> dict[str, Any]:
        """Last logged window, validation on ``val_dataset``, steps, seconds, throughput, ``history``."""
        pos, cfg, info = self.pos, self.cfg, self.info
        seconds = pos.seconds_before + time.perf_counter() - self.t0
        frames_t = torch.tensor([float(pos.frames_before + self.frames_done)], device=self.device)
        frames_all = float(distributed.all_reduce_sum(frames_t, info).item())
        final: dict[str, Any] = {k: v for k, v in (pos.history[-1] if pos.history else {}).items() if k != "step"}
        if val_dataset is not None and cfg.val_batches > 0 and len(val_dataset) >= info.world_size:
            val = evaluate(self.model, val_dataset, cfg, info, seed=determinism.derive_seed(self.seed, "val"),
                           max_batches=cfg.val_batches, collate_fn=collate_fn)  # fmt: skip
            final.update(val)
            if info.is_main and val:
                self.run.log_metrics(val, step=pos.step)
        epoch_len = max(1, len(self.sampler.global_batches(pos.epoch)))
        final.update(
            steps=pos.step, seconds=seconds, epochs=pos.epoch + pos.batch / epoch_len,
            frames_per_s=(frames_all / seconds) if seconds > 0 else 0.0, world_size=info.world_size,
        )  # fmt: skip
        final["history"] = pos.history
        return final


def _reduce_window(window: _Window, optims: list[_Optim], extras: dict[str, float], info) -> dict[str, float]:
    """Window means, averaged over processes; frames summed over processes."""
    keys = sorted(window.terms)
    gkeys = sorted(window.grad_norms)
    vec = torch.stack([window.terms[k] for k in keys] + [window.grad_norms[k].float() for k in gkeys]) / window.steps
    vec = distributed.all_reduce_sum(vec, info) / info.world_size
    frames = distributed.all_reduce_sum(torch.tensor([float(window.frames)], device=info.device), info)
    elapsed = time.perf_counter() - window.start
    vals = vec.tolist()
    # representation-health statistics (avssl.training.health) keep their own namespace: they are not losses
    metrics = {(k if k.startswith("health/") else f"train/{k}"): v for k, v in zip(keys, vals[: len(keys)])}
    metrics.update({f"grad_norm/{k}": v for k, v in zip(gkeys, vals[len(keys) :])})
    for o in optims:
        metrics[f"lr/{o.name}"] = float(o.optimizer.param_groups[0]["lr"])
    metrics.update({f"objective/{k}": v for k, v in extras.items()})  # e.g. EMA momentum
    metrics["perf/frames_per_s"] = float(frames.item()) / max(elapsed, 1e-9)
    metrics["perf/step_s"] = elapsed / window.steps
    return metrics
