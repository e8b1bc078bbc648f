"""CPU timings of the RAVEn Base encoders and one full RAVEn Base pre-training step, alone or against the official code.

    PYTHONPATH=src python bench/bench_raven.py [--repeats 5] [--threads N]
    PYTHONPATH=src nice -n -5 python bench/bench_raven.py --official PATH --threads 1 --repeats 15

Measures forward+backward of each Base encoder (batch 1 x 20 frames = 12,800 samples) and one pre-training
step (batch 2 x 20 frames: 2 teacher + 2 student encoder passes, 3 predictors, backward, clipping, two AdamW
steps, EMA update), each with the fused attention (`F.scaled_dot_product_attention` with the relative-position
term as an additive bias; exact, see tests) and with the plain-matmul reference attention. Median of runs.

What we did to go faster: fused attention (the relative-position term is an additive bias, so
`F.scaled_dot_product_attention` is exact; tests compare it with the plain formula); `rel_shift` is a strided
view instead of pad+reshape copies; sinusoids computed once per forward and shared by all blocks; teachers
under no_grad; the EMA is one fused `torch._foreach_lerp_` (~3x faster than a per-parameter loop).
Measured on 1 CPU thread (shared 2-core box): at T=20 the fused and plain attention are within noise
(~0.6 s video, ~0.33 s audio fwd+bwd, ~2.8 s per pre-training step) and ~2 % apart at T=400: on CPU the cost
is the ResNet frontends and the Linear layers, not attention. channels_last for the 2-D trunk: no gain.

Side by side with the official implementation (``--official PATH``, a checkout of github.com/ahaliassos/raven at
its first commit, 040e987f, the one with the pre-training code; nothing of it is in this repository). Their
torch-only modules are imported from PATH (espnet Encoder for students, teachers and predictors, built with the
Base / predictor configs of their conf/; models.utils.EMA; BYOLAV.compute_loss restated in 3 lines, as its module
imports hydra and the CTC/decoder E2E); :class:`OfficialStep` drives
them as their Lightning learner does (two optimisers, each its own forward/backward/clip/AdamW, then EMA), minus
the label-probe CTC/decoder heads their E2E wrapper adds (they need transcripts and see detached features). Our
state dicts load into theirs strictly, the batch and span mask are shared, and before timing the bench asserts
agreement (``--tol``, default 1e-5): encoders' forward on a padded batch (dropout off, BatchNorm in train mode)
and a whole step's three losses and pre-clipping gradient norms. Then each case alternates ours/official
(order flipped every repeat) and reports medians of wall and CPU time and the medians of the per-pair ratios.
Needs about 7 GB of memory (two full pre-training models with their AdamW states).

Measured 2026-11-29 (torch 2.11 CPU, --threads 1, nice -5, 2-core box shared with 5 other sessions, so load
average 5-15; CPU time, which excludes time given to other processes, is the steadier figure). Agreement: video
3.9e-6, audio 2.6e-6 max |ours - official| over the outputs, losses within 1.1e-8, gradient norms within 1.1e-7
(relative). ours / official, median of per-pair ratios, CPU time (wall):
    run (repeats, load)         video fwd+bwd 1x20   audio fwd+bwd 1x12800   pre-training step 2x20
    15 pairs, load 3.6-6.2      0.97 (0.98)          0.98 (0.94)             0.93 (0.92)     [final code]
    15 pairs, load 5.3-6.8      0.99 (0.96)          0.98 (0.91)             0.95 (0.95)     [final code]
    15 pairs, load 7.5-9.5      0.96 (0.94)          1.01 (0.98)             0.94 (0.96)
    7 pairs, load 8.4-8.9       0.97 (0.90)          1.06 (1.10)             0.96 (1.15)
    7/5 pairs, load 14.5-15.4   0.87 (0.85)          0.98 (0.98)             0.94 (1.02)
So we are at parity with the official code on CPU (0.87-1.06 over runs, noise included), not at the 0.8 target.
torch.profiler of the step (same for ours and theirs, to profiler noise): ~40 % oneDNN convolutions forward +
backward (the ResNet-18 frontends; ~55 % of a video encoder's fwd+bwd), ~20 % GEMMs of the Linear layers, ~12 %
AdamW's per-parameter CPU loop (torch.optim's default on CPU), ~7 % BatchNorm, 3 % max-pool -- identical kernels
on both sides -- leaving ~15 % where the implementations differ; we
already win there (fused SiLU vs x*sigmoid(x), fused attention, strided rel_shift, one foreach-lerp EMA vs three
temporaries per parameter) and that is the whole gap. Tried and rejected: channels_last trunk (no gain, changes
outputs by 1.3e-5), 3-D stem as a 2-D conv over 5 stacked frames (1.8x slower), BatchNorm over (B*T, C) without
transposes (no measurable gain). Kept (bit-identical, small): the per-frame max-pool as max_pool2d on a view and
the global pool as a mean. What would move the step: fused CPU AdamW (``--ours-fused-adamw``: step ratio 0.88 CPU,
5 pairs, load 10.6) -- a change to avssl.training.loop's optimiser (it fuses on CUDA only), not to the model.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from avssl.config.raven import RavenParams
from avssl.models.raven import raven_audio, raven_video
from avssl.models.raven.attention import RelPositionMultiHeadedAttention
from avssl.training.ema import cosine_momentum, ema_update_
from avssl.training.raven import build_objective


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def encoder_step(enc, x):
    def run():
        enc.zero_grad(set_to_none=True)
        enc(x).square().mean().backward()
    return run


def pretrain_step(obj, batch, opts):
    groups = obj.param_groups()

    def run():
        out = obj(batch)
        for o in opts:
            o.zero_grad(set_to_none=True)
        out["loss"].backward()
        for g in groups:
            torch.nn.utils.clip_grad_norm_(g["params"], g["grad_clip"])
        for o in opts:
            o.step()
        obj.on_step_end(10, 1000)
    return run


def naive_ema(teacher, student, m):
    with torch.no_grad():
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.data = t.data * m + (1 - m) * s.data


# --- side by side with the official implementation (--official PATH) ----------------------------------------

def import_official(path: str) -> SimpleNamespace:
    """The official modules from a checkout of github.com/ahaliassos/raven (first commit, which has the
    pre-training code). Only torch-only modules are imported: their Encoder (students, teachers and, with
    input_layer=token_embed, predictors), nets_utils.make_non_pad_mask and models.utils.EMA. Their learner
    (pretrain_learner.Raven) needs pytorch_lightning + fairseq + hydra, so :class:`OfficialStep` drives their
    modules the way that learner does."""
    root = Path(path).resolve()
    if not (root / "espnet/nets/pytorch_backend/transformer/encoder.py").is_file():
        raise SystemExit(f"--official {path}: no espnet/nets/pytorch_backend/transformer/encoder.py there; "
                         "give a checkout of github.com/ahaliassos/raven")
    sys.path.insert(0, str(root))
    from espnet.nets.pytorch_backend.nets_utils import make_non_pad_mask
    from espnet.nets.pytorch_backend.transformer.encoder import Encoder
    from models.utils import EMA, set_requires_grad

    return SimpleNamespace(Encoder=Encoder, EMA=EMA, set_requires_grad=set_requires_grad,
                           make_non_pad_mask=make_non_pad_mask, root=root)


def official_encoder(off: SimpleNamespace, modality: str) -> nn.Module:
    """What E2E(odim, args) builds as `.encoder` from conf/model/{visual,audio}_backbone/resnet_transformer_base."""
    return off.Encoder(
        idim=512, attention_dim=512, attention_heads=8, linear_units=2048, num_blocks=12,
        frontend="conv3d" if modality == "video" else "conv1d", input_layer="vanilla_linear",
        dropout_rate=0.1, positional_dropout_rate=0.1, attention_dropout_rate=0.1,
        encoder_attn_layer_type="rel_mha", macaron_style=False, use_cnn_module=False, cnn_module_kernel=31,
        zero_triu=False, a_upsample_ratio=1, relu_type="swish", layerscale=True, init_values=0.1, ff_bn_pre=True,
        post_norm=False, gamma_zero=False, gamma_init=0.1, mask_init_type=None, drop_path=0.0,
    )


def official_predictor(off: SimpleNamespace) -> nn.Module:
    """conf/model/predictor/transformer.yaml."""
    return off.Encoder(
        idim=512, attention_dim=512, attention_heads=8, linear_units=2048, num_blocks=2, input_layer="token_embed",
        dropout_rate=0.1, attention_dropout_rate=0.1, encoder_attn_layer_type="rel_mha", macaron_style=False,
        use_cnn_module=False, zero_triu=False, a_upsample_ratio=1, ff_bn_pre=True, post_norm=False,
        mask_init_type="normal", last_linear=True, odim=512,
    )


def official_loss(x1, x2, mask_loss):
    """models/byol_av.py BYOLAV.compute_loss (that module imports hydra and the CTC/decoder E2E, so not imported)."""
    loss = -F.cosine_similarity(x1, x2, dim=-1)
    loss = loss.masked_fill(mask_loss == 0, 0.0)
    return loss.sum() / mask_loss.sum()


class OfficialStep:
    """One official pre-training step, as pretrain_learner.Raven runs it under Lightning (2 optimisers):
    on_train_batch_start: teachers (dropout off, BatchNorm in train mode) encode the unmasked clip;
    optimizer_idx 0: video student on the masked clip -> predictor_cross -> loss v2a; backward, clip 3.0, AdamW;
    optimizer_idx 1: audio student -> predictor_within (a2a, masked frames) + predictor_cross (a2v); backward, clip,
    AdamW; on_train_batch_end: EMA of both teachers (models.utils.EMA). Left out: the label-probe CTC + attention
    decoder heads E2E adds (they need transcripts, see only detached features, are not part of the objective and
    have no counterpart in ours). Weights, buffers, mask and batch are copied from our objective, so both compute
    the same function."""

    def __init__(self, off: SimpleNamespace, obj, lr: float, betas, weight_decay: float, clip: float):
        self.off, self.clip = off, clip
        self.s_video, self.s_audio = official_encoder(off, "video"), official_encoder(off, "audio")
        self.t_video, self.t_audio = copy.deepcopy(self.s_video), copy.deepcopy(self.s_audio)
        off.set_requires_grad(self.t_video, False)
        off.set_requires_grad(self.t_audio, False)
        self.pv_cross, self.pa_within, self.pa_cross = (official_predictor(off) for _ in range(3))
        self.sync_from(obj)
        self.params_video = [*self.s_video.parameters(), *self.pv_cross.parameters()]
        self.params_audio = [*self.s_audio.parameters(), *self.pa_within.parameters(), *self.pa_cross.parameters()]
        self.opt_video = torch.optim.AdamW(self.params_video, lr=lr, betas=betas, weight_decay=weight_decay)
        self.opt_audio = torch.optim.AdamW(self.params_audio, lr=lr, betas=betas, weight_decay=weight_decay)
        self.ema = off.EMA()

    def modules(self):
        return [self.s_video, self.s_audio, self.t_video, self.t_audio, self.pv_cross, self.pa_within, self.pa_cross]

    def sync_from(self, obj) -> None:
        """Our state dicts load strictly into theirs (same key layout, see tests/test_raven_encoders.py)."""
        pairs = [(self.s_video, obj.model_video.encoder), (self.s_audio, obj.model_audio.encoder),
                 (self.t_video, obj.model_video.target_encoder), (self.t_audio, obj.model_audio.target_encoder),
                 (self.pv_cross, obj.model_video.predictor_cross), (self.pa_within, obj.model_audio.predictor_within),
                 (self.pa_cross, obj.model_audio.predictor_cross)]
        for theirs, ours in pairs:
            theirs.load_state_dict(ours.state_dict(), strict=True)

    @staticmethod
    def _dropout(module: nn.Module, on: bool) -> None:  # BYOLSingle.set_dropout_mode
        for m in module.modules():
            if isinstance(m, nn.Dropout):
                m.train(on)

    def __call__(self, video, audio, lengths, masked, momentum: float, dropout: bool = True) -> dict:
        padding_mask = self.off.make_non_pad_mask(lengths)  # (B, T) True = valid
        pm = padding_mask.unsqueeze(-2)
        no_mask = torch.zeros_like(masked)
        with torch.no_grad():
            targets = []
            for t, x in ((self.t_video, video), (self.t_audio, audio.unsqueeze(-1))):
                self._dropout(t, False)
                targets.append(t(x, pm, no_mask)[0])
                self._dropout(t, dropout)
        z_vt, z_at = targets
        keep = ~masked
        e_v = self.s_video(video * keep[:, :, None, None], pm, masked)[0]
        loss_v2a = official_loss(self.pv_cross(e_v, pm, token_mask=masked)[0], z_at, padding_mask)
        self.opt_video.zero_grad()
        loss_v2a.backward()
        gn_v = torch.nn.utils.clip_grad_norm_(self.params_video, self.clip)
        self.opt_video.step()
        keep_audio = torch.repeat_interleave(keep, audio.size(1) // video.size(1), -1)
        e_a = self.s_audio((audio * keep_audio).unsqueeze(-1), pm, masked)[0]
        loss_a2a = official_loss(self.pa_within(e_a, pm, token_mask=masked)[0], z_at, masked)
        loss_a2v = official_loss(self.pa_cross(e_a, pm, token_mask=masked)[0], z_vt, padding_mask)
        self.opt_audio.zero_grad()
        (loss_a2a + loss_a2v).backward()
        gn_a = torch.nn.utils.clip_grad_norm_(self.params_audio, self.clip)
        self.opt_audio.step()
        self.ema.update_moving_average(self.t_video, self.s_video, momentum)
        self.ema.update_moving_average(self.t_audio, self.s_audio, momentum)
        return dict(loss_v2a=loss_v2a.detach(), loss_a2a=loss_a2a.detach(), loss_a2v=loss_a2v.detach(),
                    grad_norm_video=gn_v, grad_norm_audio=gn_a)


def ours_step(obj, opts, batch, momentum_step=(10, 1000)) -> dict:
    """Our step as avssl.training.pretrain runs it: one forward of the objective, one backward of the summed
    loss (the modalities have disjoint parameters), clipping per optimiser, two AdamW steps, EMA (foreach lerp)."""
    out = obj(batch)
    for o in opts:
        o.zero_grad(set_to_none=True)
    out["loss"].backward()
    gns = [torch.nn.utils.clip_grad_norm_(g["params"], g["grad_clip"]) for g in obj.param_groups()]
    for o in opts:
        o.step()
    obj.on_step_end(*momentum_step)
    return dict(out, grad_norm_video=gns[0], grad_norm_audio=gns[1])


def set_dropout(modules, on: bool) -> None:
    """Dropout (ours: nn.Dropout + the attention's functional dropout, read from its .training) on/off;
    BatchNorm stays in train mode, so checks run the training computation minus the random draws."""
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Dropout, RelPositionMultiHeadedAttention)):
                m.train(on)


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def check_agreement(obj, opts, theirs: OfficialStep, batch, tol: float) -> list[tuple[str, float]]:
    """Encoders' forward (teacher mode) and a whole step's losses and gradient norms, ours vs official."""
    rows = []
    pm = ~(torch.arange(batch["video"].shape[1])[None, :] < batch["lengths"][:, None])
    for name, ours_enc, their_enc, x, xt in (
        ("video", obj.model_video.encoder, theirs.s_video, batch["video"], batch["video"]),
        ("audio", obj.model_audio.encoder, theirs.s_audio, batch["audio"], batch["audio"].unsqueeze(-1)),
    ):
        set_dropout([ours_enc, their_enc], False)
        with torch.no_grad():
            d = max_abs(ours_enc(x, pm), their_enc(xt, (~pm).unsqueeze(-2))[0])
        set_dropout([ours_enc, their_enc], True)
        rows.append((f"{name} encoder forward (padded batch), max |ours - official|", d))
    theirs.sync_from(obj)  # the forwards above moved BatchNorm running statistics identically; re-sync anyway
    mods = [obj, *theirs.modules()]
    set_dropout(mods, False)
    mine = ours_step(obj, opts, batch)
    ref = theirs(batch["video"], batch["audio"], batch["lengths"], batch["mask"],
                 cosine_momentum(10, 1000), dropout=False)
    set_dropout(mods, True)
    for k in ("loss_v2a", "loss_a2a", "loss_a2v"):
        rows.append((f"pre-training step {k}, |ours - official|", abs(float(mine[k]) - float(ref[k]))))
    for k in ("grad_norm_video", "grad_norm_audio"):
        rows.append((f"pre-training step {k} (before clipping), relative difference",
                     abs(float(mine[k]) - float(ref[k])) / float(ref[k])))
    bad = [(k, v) for k, v in rows if not v <= tol]
    if bad:
        raise SystemExit(f"ours and the official implementation disagree beyond {tol}: {bad}")
    theirs.sync_from(obj)
    return rows


def interleaved(fns: dict, repeats: int) -> dict:
    """Median wall and CPU seconds of each callable, run alternately (order flipped every repeat) after one
    warm-up each, plus the medians of the per-repeat ratios first/second: a load spike hits both halves of a
    pair alike. CPU time (process_time; with one thread every op and the backward run on this thread) does not
    count the time the scheduler gives to other processes, so on a shared machine it is the steadier figure."""
    names = list(fns)
    for f in fns.values():
        f()
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for i in range(repeats):
        for n in (names if i % 2 == 0 else names[::-1]):
            t, c = time.perf_counter(), time.process_time()
            fns[n]()
            cpu[n].append(time.process_time() - c)
            wall[n].append(time.perf_counter() - t)
    a, b = names
    return {
        "wall": {n: statistics.median(v) for n, v in wall.items()},
        "cpu": {n: statistics.median(v) for n, v in cpu.items()},
        "wall_ratio": statistics.median(x / y for x, y in zip(wall[a], wall[b])),
        "cpu_ratio": statistics.median(x / y for x, y in zip(cpu[a], cpu[b])),
    }


def side_by_side(args) -> None:
    off = import_official(args.official)
    torch.manual_seed(0)
    obj = build_objective(RavenParams()).train()
    groups = obj.param_groups()
    fused = True if args.ours_fused_adamw else None  # None: what avssl.training.loop uses on CPU
    opts = [torch.optim.AdamW(g["params"], lr=g["lr"], betas=g["betas"], weight_decay=g["weight_decay"], fused=fused)
            for g in groups]
    g0 = groups[0]
    theirs = OfficialStep(off, obj, g0["lr"], g0["betas"], g0["weight_decay"], g0["grad_clip"])
    B, T = args.batch, args.frames
    lengths = torch.tensor([T] + [max(1, T - 3 * i) for i in range(1, B)])
    batch = {"video": torch.randn(B, T, 88, 88), "audio": torch.randn(B, T * 640), "lengths": lengths}
    batch["mask"] = obj.make_mask(lengths, T)

    print(f"official modules from {off.root}; load average before: {os.getloadavg()[0]:.2f}")
    for name, d in check_agreement(obj, opts, theirs, batch, args.tol):
        print(f"  {name}: {d:.2e}")

    xv, xa = batch["video"][:1], batch["audio"][:1]
    enc_v, enc_a = obj.model_video.encoder, obj.model_audio.encoder

    def enc_run(enc, x, official):
        def run():
            enc.zero_grad(set_to_none=True)
            out = enc(x, None)[0] if official else enc(x)
            out.square().mean().backward()
        return run

    momentum = cosine_momentum(10, 1000)
    cases = [
        (f"video Base fwd+bwd 1x{T} frames", enc_run(enc_v, xv, False), enc_run(theirs.s_video, xv, True)),
        (f"audio Base fwd+bwd 1x{T * 640} samples", enc_run(enc_a, xa, False),
         enc_run(theirs.s_audio, xa.unsqueeze(-1), True)),
        (f"pre-training step {B}x{T} frames", lambda: ours_step(obj, opts, batch),
         lambda: theirs(batch["video"], batch["audio"], batch["lengths"], batch["mask"], momentum)),
    ]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.repeats} interleaved repeats")
    print(f"{'case':<36} {'ours ms':>9} {'official ms':>12} {'ratio':>6} {'ours CPU ms':>12} "
          f"{'official CPU ms':>16} {'CPU ratio':>9}  load")
    for name, mine, ref in cases:
        if args.only and args.only not in name:
            continue
        r = interleaved({"ours": mine, "official": ref}, args.repeats)
        w, c = r["wall"], r["cpu"]
        print(f"{name:<36} {w['ours'] * 1e3:9.1f} {w['official'] * 1e3:12.1f} {r['wall_ratio']:6.2f} "
              f"{c['ours'] * 1e3:12.1f} {c['official'] * 1e3:16.1f} {r['cpu_ratio']:9.2f}  "
              f"{os.getloadavg()[0]:.2f}", flush=True)

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--official", metavar="PATH", default=None,
                    help="checkout of github.com/ahaliassos/raven (first commit): time ours against it instead")
    ap.add_argument("--batch", type=int, default=2, help="--official: clips per pre-training step")
    ap.add_argument("--frames", type=int, default=20, help="--official: frames per clip (25 fps)")
    ap.add_argument("--tol", type=float, default=1e-5, help="--official: largest accepted ours-official difference")
    ap.add_argument("--only", default=None, help="--official: time only the cases whose name contains this")
    ap.add_argument("--ours-fused-adamw", action="store_true",
                    help="--official: give ours torch's fused CPU AdamW (what-if; the loop fuses on CUDA only)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.official:
        side_by_side(args)
        return
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} runs")

    video, audio = raven_video("base").train(), raven_audio("base").train()
    xv, xa = torch.randn(1, 20, 88, 88), torch.randn(1, 12800)
    obj = build_objective(RavenParams()).train()
    batch = {"video": torch.randn(2, 20, 88, 88), "audio": torch.randn(2, 20 * 640),
             "lengths": torch.tensor([20, 17])}
    opts = [torch.optim.AdamW(g["params"], lr=g["lr"], betas=g["betas"], weight_decay=g["weight_decay"])
            for g in obj.param_groups()]

    def ab(make_run, repeats):
        """Median time with fused and with plain attention, runs interleaved so machine load hits both alike."""
        run = make_run()
        times = {True: [], False: []}
        for i in range(repeats + 1):
            for fused in (True, False):
                RelPositionMultiHeadedAttention.use_sdpa = fused
                t = time.perf_counter()
                run()
                if i:  # first round is warm-up
                    times[fused].append(time.perf_counter() - t)
        return statistics.median(times[True]), statistics.median(times[False])

    rows = []
    for name, make, reps in (
        ("video Base fwd+bwd 1x20 frames", lambda: encoder_step(video, xv), args.repeats),
        ("audio Base fwd+bwd 1x12800 samples", lambda: encoder_step(audio, xa), args.repeats),
        ("RAVEn Base pre-training step 2x20", lambda: pretrain_step(obj, batch, opts), max(3, args.repeats // 2)),
    ):
        fused, plain = ab(make, reps)
        rows += [(f"{name} (fused SDPA)", fused), (f"{name} (plain matmul)", plain)]
    RelPositionMultiHeadedAttention.use_sdpa = True
    t_v, s_v = obj.model_video.target_encoder, obj.model_video.encoder
    rows.append(("EMA update, video Base (foreach lerp)", median_time(lambda: ema_update_(t_v, s_v, 0.999), 10)))
    rows.append(("EMA update, video Base (per-parameter loop)", median_time(lambda: naive_ema(t_v, s_v, 0.999), 10)))
    width = max(len(r[0]) for r in rows)
    for name, sec in rows:
        print(f"{name:<{width}}  {sec * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
