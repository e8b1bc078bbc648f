"""Shukla, Petridis, Pantic (TAC 2021): visual, audio and multi-task self-supervision of a raw-audio encoder.

* ``shukla_visual``: animate a still face of the clip with the audio. The identity encoder reads one frame
  of the clip, the U-Net decoder generates every frame from [audio feature of that frame, identity code]
  + identity skips, and an L1 on the lower face (the mouth region) pulls the generated video towards the
  real one. Copying the still frame is the trivial solution; beating it needs lip information from audio.
* ``shukla_audio``: regress standardised per-frame audio attributes (MFCC, log-mel, log-energy, F0,
  voicing; :mod:`avssl.models.shukla.audio_attributes`) from the encoder features with a small head (L1).
* ``shukla_multitask``: both on one shared encoder, ``L = L_visual + audio_lambda * L_audio``.

Only the raw-audio encoder is exported (arch ``shukla_audio``). Padding never enters a loss, a batch
statistic or the waveform normalisation. Randomness: parameter initialisation is seeded from the study
seed; the identity frame is drawn from a stream derived from (seed, draw counter), where the counter is a
buffer, so resumed runs draw the same frames.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from avssl.data.seeds import derive_seed
from avssl.models.shukla import AttributeHead, FrameDecoder, IdentityEncoder, ShuklaAudioEncoder
from avssl.models.shukla.audio_attributes import AudioAttributes, RunningStandardizer
from avssl.models.shukla.waveform import HOP
from avssl.registry.inits import get as get_init
from avssl.registry.inits import methods_of
from avssl.training.health import feature_health

METHODS = methods_of(f"{__name__}:build_objective")  # the registry's methods built here (their `pretexts`)


def _masked_mean(values: Tensor, weights: Tensor) -> Tensor:
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


class ShuklaObjective(nn.Module):
    """The PretrainObjective of docs/design.md for the three Shukla methods (see module docstring)."""

    def __init__(self, cfg: Any, visual: bool, audio: bool, seed: int = 0, face_size: int = 64, face_channels: int = 1):
        super().__init__()
        if not (visual or audio):
            raise ValueError("enable the visual pretext, the audio pretext or both")
        self.cfg, self.use_visual, self.use_audio, self.seed = cfg, visual, audio, seed
        self.face_size, self.face_channels = face_size, face_channels
        self.encoder = ShuklaAudioEncoder(window_s=cfg.window_s, cnn_channels=cfg.cnn_channels, code_dim=cfg.code_dim,
                                          gru_hidden=cfg.gru_hidden, gru_layers=cfg.gru_layers)  # fmt: skip
        if visual:
            self.identity_encoder = IdentityEncoder(
                face_size, face_channels, cfg.identity_channels, cfg.identity_layers, cfg.identity_code_dim
            )
            self.decoder = FrameDecoder(
                self.encoder.output_dim,
                cfg.identity_code_dim,
                face_size,
                face_channels,
                cfg.identity_channels,
                cfg.identity_layers,
            )
            self.register_buffer("identity_draws", torch.zeros((), dtype=torch.long))
        if audio:
            self.attributes = AudioAttributes(
                n_mfcc=cfg.n_mfcc, n_mels=cfg.n_mels, use_energy=cfg.use_energy, use_pitch=cfg.use_pitch,
                f0_min=cfg.f0_min, f0_max=cfg.f0_max,
            )  # fmt: skip
            self.standardizer = RunningStandardizer(self.attributes.dim, cfg.attribute_momentum)
            self.head = AttributeHead(self.encoder.output_dim, self.attributes.dim, cfg.attribute_head_hidden)

    # ---- PretrainObjective -------------------------------------------------------------------------
    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        audio = batch["audio"]
        n_frames = audio.shape[1] // HOP
        padding_mask = batch.get("padding_mask")
        if padding_mask is None:
            padding_mask = torch.zeros(audio.shape[0], n_frames, dtype=torch.bool, device=audio.device)
        padding_mask = padding_mask[:, :n_frames]
        features = self.encoder(audio, padding_mask)

        out: dict[str, Tensor] = {}
        total = features.new_zeros(())
        if self.use_visual:
            loss_visual, diagnostics = self._visual_loss(features, batch["face"][:, :n_frames], padding_mask, batch)
            total = total + loss_visual
            out["loss_visual"] = loss_visual.detach()
            out.update(diagnostics)
        if self.use_audio:
            loss_audio, diagnostics = self._audio_loss(features, audio, padding_mask)
            weight = self.cfg.audio_lambda if self.use_visual else 1.0  # lambda only weighs the multi-task sum
            total = total + weight * loss_audio
            out["loss_audio"] = loss_audio.detach()
            out.update(diagnostics)
        out.update(feature_health(features, ~padding_mask, "encoder_audio"))
        out["loss"] = total
        return out

    def param_groups(self) -> list[dict]:
        params = [p for p in self.parameters() if p.requires_grad]
        return [
            {
                "name": "shukla",
                "params": params,
                "lr": self.cfg.lr,
                "weight_decay": self.cfg.weight_decay,
                "betas": tuple(self.cfg.betas),
                "optimizer": "adam",
            }
        ]

    def on_step_end(self, step: int, total_steps: int) -> dict[str, float]:
        return {}

    def encoders(self) -> dict[str, nn.Module]:
        return {"audio": self.encoder}

    # ---- visual pretext ------------------------------------------------------------------------------
    def identity_index(self, lengths: Tensor) -> Tensor:
        """Which frame of each clip is the still identity image (B,), always a real frame.

        'random' draws from a generator seeded by (seed, draw counter); training advances the counter
        each call, evaluation always uses the same fixed draw so validation losses are comparable.
        """
        lengths = lengths.clamp_min(1)
        mode = self.cfg.identity_frame
        if mode == "first":
            return torch.zeros_like(lengths)
        if mode == "middle":
            return (lengths - 1) // 2
        stream = int(self.identity_draws) if self.training else "eval"
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "shukla-identity", stream))
        draw = torch.rand(lengths.shape[0], generator=generator).to(lengths.device)
        if self.training:
            self.identity_draws += 1
        return torch.minimum((draw * lengths).long(), lengths - 1)

    def _visual_loss(
        self, features: Tensor, face: Tensor, padding_mask: Tensor, batch: dict[str, Any]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        expected = (self.face_channels, self.face_size, self.face_size)
        if tuple(face.shape[2:]) != expected:
            got = tuple(face.shape[2:])
            raise ValueError(f"batch['face'] frames are {got}, the objective was built for {expected}")
        valid = ~padding_mask
        lengths = batch.get("lengths")
        lengths = valid.sum(1) if lengths is None else lengths.to(valid.device).clamp_max(valid.shape[1])
        clips = torch.arange(face.shape[0], device=face.device)
        identity = face[clips, self.identity_index(lengths)]  # (B, C, S, S)
        code, skips = self.identity_encoder(identity)

        clip_of, frame_of = valid.nonzero(as_tuple=True)  # decode real frames only
        generated = self.decoder(features[clip_of, frame_of], code[clip_of], [s[clip_of] for s in skips])
        real = face[clip_of, frame_of]
        top = int(round(cfg.mouth_top * self.face_size))
        error = (generated - real).abs()
        l1_mouth = error[..., top:, :].mean() if error.numel() else error.sum()
        l1_face = error.mean() if error.numel() else error.sum()
        loss = cfg.mouth_weight * l1_mouth + cfg.face_weight * l1_face
        with torch.no_grad():  # the still-image baseline: copy the identity frame to every frame
            copy_error = (identity[clip_of] - real).abs()[..., top:, :]
            l1_copy = copy_error.mean() if copy_error.numel() else copy_error.sum()
        return loss, {"l1_mouth": l1_mouth.detach(), "l1_face": l1_face.detach(), "l1_copy_baseline": l1_copy}

    # ---- audio pretext -------------------------------------------------------------------------------
    def _audio_loss(self, features: Tensor, audio: Tensor, padding_mask: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        # Targets in full precision even under AMP (log floors and the pitch search need it).
        with torch.no_grad(), torch.autocast(audio.device.type, enabled=False):
            raw = self.attributes(audio.float(), padding_mask)
            weights = self.attributes.weights(raw, padding_mask)
            target = self.standardizer(raw, weights)
        prediction = self.head(features)
        loss = _masked_mean((prediction - target).abs(), weights)
        # Predicting the running mean everywhere: what the head must beat.
        baseline = _masked_mean(target.abs(), weights)
        return loss, {"l1_attribute_mean_baseline": baseline}


def build_objective(params: Any, method: str, seed: int | None = None) -> ShuklaObjective:
    """The objective for ``method`` in METHODS from ``params.shukla`` (or a ShuklaParams-like object).

    Parameters are initialised under a private RNG seeded from ``seed`` (default: ``params.study.seed``
    or 0), so the same seed gives the same initial model whatever the global RNG state. Face size and
    channels come from ``shukla.face_size`` / ``face_channels`` when set, else from the preprocess section
    (``face_size``, ``face_color``), else 64 px grayscale.
    """
    if method not in METHODS:
        raise ValueError(f"unknown Shukla method {method!r}; expected one of {', '.join(METHODS)}")
    cfg = getattr(params, "shukla", params)
    if seed is None:
        seed = int(getattr(getattr(params, "study", None), "seed", 0))
    preprocess = getattr(params, "preprocess", None)
    face_size = getattr(cfg, "face_size", None) or getattr(preprocess, "face_size", 64)
    face_channels = getattr(cfg, "face_channels", None) or (3 if getattr(preprocess, "face_color", False) else 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "shukla-init", method))
        return ShuklaObjective(
            cfg,
            visual="visual" in get_init(method).pretexts,
            audio="audio" in get_init(method).pretexts,
            seed=seed,
            face_size=face_size,
            face_channels=face_channels,
        )
