"""The `shukla` section: Shukla, Petridis, Pantic (TAC 2021) visual / audio / multi-task self-supervision.

No official code exists, so every value below is a documented *choice* (see
shared/reference/shukla.md): the audio encoder follows the lab's talking-face generator (window CNN +
2-layer GRU, 25 Hz output), the visual pretext animates a still face with a U-Net and scores the lower
face with L1, and the audio pretext regresses per-frame MFCC / log-mel / log-energy / F0 + voicing.

Recommended `tiny` preset (CPU smoke runs): cnn_channels 4, code_dim 64, gru_hidden 64,
identity_channels 8, identity_code_dim 32, attribute_head_hidden 64 (identity_layers 4 for 64 or 96 px
faces, 3 for 32 px). Face size / channels follow the preprocess section unless set here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from avssl.config.base import Section
from avssl.media import SAMPLE_RATE


class ShuklaParams(Section):
    # --- raw-audio encoder (exported as arch `shukla_audio`) -------------------------------------
    window_s: float = Field(
        0.2,
        gt=0.0,
        le=1.0,
        description="Choice: audio window per 40 ms video frame, centred on the frame and zero-padded at the "
        "utterance edges (the lab's talking-face generator uses 0.2 s). Must be a multiple of 1 ms.",
    )
    cnn_channels: int = Field(
        16,
        ge=1,
        le=256,
        description="Width of the first window-CNN conv; doubles per layer (16 -> 256 in the lab's CNN).",
    )
    code_dim: int = Field(512, ge=1, le=4096, description="Choice: per-window CNN code size (tanh output).")
    gru_hidden: int = Field(
        256, ge=1, le=4096, description="Choice: GRU width = dimension D of the exported 25 Hz features."
    )
    gru_layers: int = Field(2, ge=1, le=8, description="GRU layers over the per-frame codes (2 in the lab's GRU).")

    # --- visual self-supervision ------------------------------------------------------------------
    face_size: int | None = Field(
        None,
        ge=8,
        le=512,
        description="Side of the square face crops in batch['face']; null = follow preprocess.face_size "
        "(64 by default).",
    )
    face_channels: Literal[1, 3] | None = Field(
        None,
        description="Face crop channels (1 grayscale, 3 colour); null = follow preprocess.face_color "
        "(grayscale by default).",
    )
    identity_channels: int = Field(
        64, ge=1, le=512, description="Width of the first identity conv; doubles per layer (capped at 512)."
    )
    identity_layers: int = Field(
        4,
        ge=1,
        le=7,
        description="4x4 stride-2 convs in the identity encoder; face_size must be divisible by 2**identity_layers.",
    )
    identity_code_dim: int = Field(128, ge=1, le=4096, description="Choice: identity code size (tanh output).")
    identity_frame: Literal["random", "first", "middle"] = Field(
        "random",
        description="Which frame of the clip is the still identity image: 'random' (the documented default; "
        "a seeded draw per clip and step), 'first' or 'middle' valid frame.",
    )
    mouth_top: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="Choice: the visual L1 covers rows from mouth_top*face_size to the bottom (0.5 = lower half).",
    )
    mouth_weight: float = Field(1.0, ge=0.0, description="Weight of the L1 on the lower-face region.")
    face_weight: float = Field(
        0.0, ge=0.0, description="Weight of an extra whole-face L1 (0 = lower face only, as documented)."
    )

    # --- audio self-supervision ------------------------------------------------------------------
    n_mfcc: int = Field(13, ge=0, le=40, description="MFCCs per frame (DCT of the log-mel), 0 to drop them.")
    n_mels: int = Field(
        40, ge=0, le=128, description="Log-mel bands per frame, 0 to drop them (MFCCs then use 40 bands)."
    )
    use_energy: bool = Field(True, description="Regress the per-frame log-energy.")
    use_pitch: bool = Field(
        True, description="Regress autocorrelation F0 (log Hz, voiced frames only) and voicing strength."
    )
    f0_min: float = Field(60.0, gt=20.0, description="Lowest F0 searched by the autocorrelation pitch tracker (Hz).")
    f0_max: float = Field(400.0, gt=20.0, le=1000.0, description="Highest F0 searched (Hz).")
    attribute_momentum: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="Targets are standardised per attribute with running mean/std over valid frames (the first "
        "training batch initialises them, then an EMA with this momentum; 0 = frozen after the first batch).",
    )
    attribute_head_hidden: int = Field(
        256, ge=1, le=4096, description="Hidden width of the attribute-regression MLP head."
    )

    # --- multi-task + optimiser ------------------------------------------------------------------
    audio_lambda: float = Field(1.0, ge=0.0, description="Multi-task weight: L = L_visual + audio_lambda * L_audio.")
    lr: float = Field(1e-4, gt=0.0, description="Adam learning rate (documented default 1e-4).")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam betas.")
    weight_decay: float = Field(0.0, ge=0.0, description="Adam weight decay.")

    @model_validator(mode="after")
    def _check(self) -> "ShuklaParams":
        samples = self.window_s * SAMPLE_RATE
        if abs(samples / 16 - round(samples / 16)) > 1e-6:
            raise ValueError(f"window_s={self.window_s} must be a multiple of 1 ms (16 samples at 16 kHz)")
        if self.face_size is not None and self.face_size % (2**self.identity_layers):
            raise ValueError(
                f"face_size={self.face_size} not divisible by 2**identity_layers={2**self.identity_layers}"
            )
        if self.f0_min >= self.f0_max:
            raise ValueError("f0_min must be below f0_max")
        if not (self.n_mfcc or self.n_mels or self.use_energy or self.use_pitch):
            raise ValueError("at least one audio attribute must be enabled")
        return self
