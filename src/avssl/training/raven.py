"""RAVEn pre-training objective (Haliassos et al., ICLR 2023): students, EMA teachers, predictors, losses.

Per step: each student draws its own span mask (official; `mask_sharing: shared` = one mask for both), cut to
equal counts per row (`mask_subsample`, official); each teacher encodes its *unmasked* input (targets =
final-LayerNorm output; Dropout off, BatchNorm on batch statistics, DropPath active as in the official code
unless `teacher_drop_path: false`); each student encodes its masked input and predictors map it to targets:
    video student -> predictor_cross  -> audio targets          (v->a, all non-padded frames)
    audio student -> predictor_within -> audio targets          (a->a, frames of the audio mask only)
                  -> predictor_cross  -> video targets          (a->v, all non-padded frames)
Losses are negative cosine similarities; loss_video = v->a, loss_audio = a->a + a->v, loss = sum (the two
modalities have disjoint parameters and separate optimisers, so one backward of the sum serves both).
Module names mirror the official pre-training model (`model_video.predictor_cross.*`, ...). Optional probe
heads (`probe_heads`, training/raven_probe.py) read each student's detached output, as the official ones do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avssl.config.raven import RavenParams
from avssl.media import SAMPLES_PER_FRAME
from avssl.models.raven import Predictor, PredictorConfig, RavenEncoder, build_encoder
from avssl.models.raven.block import BlockConfig, DropPath
from avssl.training.ema import cosine_momentum, ema_update_, make_teacher, set_teacher_mode
from avssl.training.health import feature_health
from avssl.training.masking import mask_audio, mask_video, span_mask
from avssl.training.raven_probe import ProbeHeads, char_labels


class RavenBranch(nn.Module):
    """One modality: student `encoder`, EMA `target_encoder`, and its predictors."""

    def __init__(self, encoder: RavenEncoder, predictor_within: Predictor | None, predictor_cross: Predictor,
                 teacher_drop_path: bool = True, probe: ProbeHeads | None = None):
        super().__init__()
        self.encoder = encoder
        self.predictor_within = predictor_within
        self.predictor_cross = predictor_cross
        self.probe = probe
        self.target_encoder = make_teacher(encoder)
        self.teacher_keeps = (DropPath,) if teacher_drop_path else ()

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Everything this modality's AdamW steps (and clips together): encoder, predictors, probe heads."""
        mods = [self.encoder, self.predictor_within, self.predictor_cross, self.probe]
        return [p for m in mods if m is not None for p in m.parameters()]

    @torch.no_grad()
    def targets(self, x: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
        """Teacher output on the unmasked input. Training: Dropout off, BatchNorm on batch statistics, DropPath
        on unless teacher_drop_path is false (official); evaluation (objective.eval()): fully deterministic,
        running statistics untouched."""
        if self.training:
            set_teacher_mode(self.target_encoder, self.teacher_keeps)
        else:
            self.target_encoder.eval()
        return self.target_encoder(x, padding_mask)


def cosine_loss(pred: torch.Tensor, target: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """Mean of -cos(pred, target) over frames where `select` (B, T) is True."""
    neg_cos = -F.cosine_similarity(pred, target, dim=-1)
    sel = select.to(neg_cos.dtype)
    return (neg_cos * sel).sum() / sel.sum().clamp_min(1.0)


class RavenObjective(nn.Module):
    def __init__(self, p: RavenParams):
        super().__init__()
        self.p = p
        cfg = p.encoder_config()
        video, audio = build_encoder("video", **cfg), build_encoder("audio", **cfg)
        adim = cfg["adim"]

        block = BlockConfig(p.predictor_width, p.predictor_heads, p.predictor_ffn, p.dropout, p.attn_dropout,
                            drop_path=0.0, layerscale=None)  # fmt: skip
        sizes = PredictorConfig(p.predictor_layers, block)

        def pred() -> Predictor:
            return Predictor(adim, adim, sizes)

        def probe() -> ProbeHeads | None:
            if not p.probe_heads:
                return None
            return ProbeHeads(adim, p.probe_decoder_dim, p.probe_decoder_heads, p.probe_decoder_units,
                              p.probe_decoder_layers, p.dropout)

        self.model_video = RavenBranch(video, None, pred(), p.teacher_drop_path, probe())
        self.model_audio = RavenBranch(audio, pred(), pred(), p.teacher_drop_path, probe())
        # Probe targets: the clip's transcript as characters (ClipDataset calls this with the clip's metadata).
        self.labels = char_labels if p.probe_heads else None
        self.generator = torch.Generator().manual_seed(p.seed)  # masking stream (re-seed per rank under DDP)

    # The masking stream is part of the state, so resuming from a checkpoint continues the same masks.
    def get_extra_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state.to("cpu", torch.uint8))

    # --- PretrainObjective contract ------------------------------------------------------------------------
    def encoders(self) -> dict[str, nn.Module]:
        return {"video": self.model_video.encoder, "audio": self.model_audio.encoder}

    def param_groups(self) -> list[dict]:
        common = dict(lr=self.p.effective_lr(), weight_decay=self.p.weight_decay, betas=tuple(self.p.betas),
                      min_lr=self.p.min_lr, grad_clip=self.p.grad_clip,
                      warmup_fraction=self.p.effective_warmup_fraction())
        return [dict(name="video", params=self.model_video.trainable_parameters(), **common),
                dict(name="audio", params=self.model_audio.trainable_parameters(), **common)]

    @torch.no_grad()
    def on_step_end(self, step: int, total_steps: int) -> dict[str, float]:
        m = cosine_momentum(step, total_steps, self.p.momentum_start, self.p.momentum_end)
        for branch in (self.model_video, self.model_audio):
            ema_update_(branch.target_encoder, branch.encoder, m)
        return {"momentum": m}

    def make_mask(self, lengths: torch.Tensor, T: int) -> torch.Tensor:
        return span_mask(lengths, T, self.p.mask_prob, self.p.mask_span, self.p.mask_mode, min_masks=self.p.min_masks,
                         generator=self.generator, subsample=self.p.mask_subsample)

    def draw_masks(self, lengths: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(video mask, audio mask) of one step: two draws in that order (official: the video student's
        training_step runs first), or one draw used twice with mask_sharing 'shared'."""
        video = self.make_mask(lengths, T)
        audio = video if self.p.mask_sharing == "shared" else self.make_mask(lengths, T)
        return video, audio

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        video, audio = batch["video"], batch["audio"]
        if video.ndim == 5:  # (B, T, 1, H, W)
            video = video.squeeze(2)
        B, T = video.shape[:2]
        audio = audio[:, : T * SAMPLES_PER_FRAME]
        padding_mask = batch.get("padding_mask")
        if padding_mask is None:
            lengths = batch.get("lengths")
            lengths = torch.full((B,), T, dtype=torch.long) if lengths is None else lengths
            padding_mask = torch.arange(T, device=video.device)[None, :] >= lengths.to(video.device)[:, None]
        padding_mask = padding_mask.to(video.device)
        valid = ~padding_mask
        mask_v, mask_a = batch.get("mask_video", batch.get("mask")), batch.get("mask_audio", batch.get("mask"))
        if mask_v is None or mask_a is None:
            drawn_v, drawn_a = self.draw_masks(valid.sum(1), T)
            mask_v = drawn_v if mask_v is None else mask_v
            mask_a = drawn_a if mask_a is None else mask_a
        mask_v, mask_a = mask_v.to(video.device) & valid, mask_a.to(video.device) & valid

        z_video = self.model_video.targets(video, padding_mask)
        z_audio = self.model_audio.targets(audio, padding_mask)

        e_video = self.model_video.encoder(mask_video(video, mask_v), padding_mask)
        e_audio = self.model_audio.encoder(mask_audio(audio, mask_a), padding_mask)
        p_v2a = self.model_video.predictor_cross(e_video, padding_mask, token_mask=mask_v)
        p_a2a = self.model_audio.predictor_within(e_audio, padding_mask, token_mask=mask_a)
        p_a2v = self.model_audio.predictor_cross(e_audio, padding_mask, token_mask=mask_a)

        loss_v2a = cosine_loss(p_v2a, z_audio, valid)
        loss_a2a = cosine_loss(p_a2a, z_audio, mask_a)
        loss_a2v = cosine_loss(p_a2v, z_video, valid)
        loss_video, loss_audio = loss_v2a, loss_a2a + loss_a2v
        n_valid = valid.sum().clamp_min(1)
        frac_v, frac_a = mask_v.sum() / n_valid, mask_a.sum() / n_valid
        out = {
            "loss_video": loss_video.detach(), "loss_audio": loss_audio.detach(),
            "loss_a2a": loss_a2a.detach(), "loss_a2v": loss_a2v.detach(), "loss_v2a": loss_v2a.detach(),
            "mask_fraction": ((frac_v + frac_a) / 2).detach().float(),
            "mask_fraction_video": frac_v.detach().float(), "mask_fraction_audio": frac_a.detach().float(),
        }
        loss = loss_video + loss_audio
        if self.p.probe_heads:  # official: the probes' losses join each student's loss, on detached features
            for name, branch, feats in (("video", self.model_video, e_video), ("audio", self.model_audio, e_audio)):
                probe = branch.probe.losses(feats.detach(), padding_mask, batch)
                loss = loss + probe["loss"]
                out.update({f"probe_{name}/{k}": v.detach() for k, v in probe.items()})
        for name, feats in (("teacher_video", z_video), ("teacher_audio", z_audio), ("student_video", e_video),
                            ("student_audio", e_audio)):
            out.update(feature_health(feats, valid, name))
        out["loss"] = loss
        return out


def build_objective(params, method: str = "raven") -> RavenObjective:
    """From the root Params (reads `params.raven`) or a RavenParams directly (``method``: the registry's call
    convention, avssl.registry.inits)."""
    p = params if isinstance(params, RavenParams) else getattr(params, "raven", None)
    if p is None:
        p = RavenParams()
    return RavenObjective(p)
