"""The `raven` section: RAVEn encoders, predictors, masking and optimisation (owned by avssl.training.raven).

Defaults are the paper's Base / LRS3 recipe (Haliassos et al., ICLR 2023; facts in docs/reference raven.md).
Size-dependent defaults (lr, warm-up, drop_path) are `None` here and resolved by the `effective_*` helpers,
so `size: large` alone gives the Large recipe. Recommended tiny settings for CPU smoke runs:
`size: custom, layers: 2, adim: 64, heads: 4, ffn: 256, frontend_width: 8, predictor_width: 64,
predictor_heads: 4, predictor_ffn: 256`.
"""

from __future__ import annotations

from typing import Optional, Any, Literal

from pydantic import Field, model_validator

from avssl.config.base import Section

_SIZE_DIMS = {"base": (12, 512, 8, 2048), "large": (24, 1024, 16, 4096)}


class RavenParams(Section):
    # --- encoders -------------------------------------------------------------------------------------------
    size: Literal["base", "large", "custom"] = Field(
        "base", description="Encoder size: the published Base (12x512) or Large (24x1024), or 'custom' dims below."
    )
    layers: int | None = Field(None, ge=1, le=64, description="Transformer blocks (size=custom only).")
    adim: int | None = Field(None, ge=8, le=4096, description="Transformer width (size=custom only).")
    heads: int | None = Field(None, ge=1, le=64, description="Attention heads; must divide adim (size=custom only).")
    ffn: int | None = Field(None, ge=8, le=16384, description="Feed-forward hidden units (size=custom only).")
    drop_path: float | None = Field(
        None, ge=0.0, lt=1.0, description="Stochastic depth per block; None = size default (Base 0.0, Large 0.1)."
    )
    frontend_width: int = Field(
        64, ge=2, le=256, description="ResNet-18 frontend stage-1 channels (official 64 -> 512-d frame features)."
    )
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout in embeddings, residual branches and FFN.")
    attn_dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout on attention weights.")
    # --- predictors -----------------------------------------------------------------------------------------
    predictor_layers: int = Field(2, ge=1, le=12, description="Blocks per predictor.")
    predictor_width: int = Field(512, ge=8, le=4096, description="Predictor Transformer width.")
    predictor_heads: int = Field(8, ge=1, le=64, description="Predictor attention heads (must divide the width).")
    predictor_ffn: int = Field(2048, ge=8, le=16384, description="Predictor feed-forward hidden units.")
    # --- masking --------------------------------------------------------------------------------------------
    mask_prob: float = Field(
        0.2, ge=0.0, le=1.0,
        description="Span-start probability. 'fairseq' mode: about this fraction of frames is masked in "
        "expectation (official); 'literal' mode: every frame starts a span with this probability (~49%).",
    )
    mask_span: int = Field(3, ge=1, le=50, description="Frames per masked span (both modalities).")
    mask_mode: Literal["fairseq", "literal"] = Field(
        "fairseq", description="How mask_prob is read: 'fairseq' (official code) or 'literal' (paper's wording)."
    )
    min_masks: int = Field(1, ge=0, description="Minimum number of spans per sequence ('fairseq' mode).")
    mask_sharing: Literal["per_modality", "shared"] = Field(
        "per_modality",
        description="'per_modality' (official: its training_step runs once per optimiser, so the video and the "
        "audio student each draw their own mask) or 'shared' (one mask for both students, the same frames hidden "
        "in both modalities).",
    )
    mask_subsample: bool = Field(
        True,
        description="Cut every row's mask to the batch's smallest number of masked frames by a random subset "
        "(official, fairseq's compute_mask_indices: equal counts per row, spans of longer rows break up); "
        "false keeps every row's spans whole.",
    )
    # --- teacher --------------------------------------------------------------------------------------------
    teacher_drop_path: bool = Field(
        True,
        description="Keep stochastic depth active in the EMA teachers (official: the teacher turns off only its "
        "Dropout layers, so the Large teacher drops blocks with p 0.1); false = deterministic teacher.",
    )
    momentum_start: float = Field(0.999, ge=0.0, le=1.0, description="EMA teacher momentum at step 0.")
    momentum_end: float = Field(1.0, ge=0.0, le=1.0, description="EMA momentum at the last step (cosine ramp).")
    # --- optimisation (one AdamW per modality) -------------------------------------------------------------
    lr: float | None = Field(None, gt=0.0, description="Peak learning rate; None = 3e-3 (Base/custom), 2e-3 (Large).")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW betas.")
    weight_decay: float = Field(0.04, ge=0.0, description="AdamW weight decay (all parameters, as official).")
    warmup_fraction: float | None = Field(
        None, ge=0.0, lt=1.0,
        description="Fraction of the steps with linear lr warm-up of both RAVEn optimisers (replaces "
        "train.warmup_fraction); None = the official recipe: 40/150 epochs (Base, LRS3), 30/150 (Large); the Base "
        "LRS3+VoxCeleb2 script uses 20/150 (its overlay in workflow/presets sets it).",
    )
    min_lr: float = Field(1e-5, ge=0.0, description="Floor of the per-step cosine decay.")
    grad_clip: float = Field(3.0, ge=0.0, description="Gradient-norm clipping per optimiser (0 = off).")
    seed: int = Field(0, ge=0, description="Seed of the masking random stream.")
    steps: Optional[int] = Field(
        None, ge=1, description="Pre-training steps of RAVEn alone (null = train.steps / train.epochs). Set in the "
        "default preset: at 150 steps the raw-waveform audio encoder has not yet learnt word identity (frozen "
        "words accuracy 17.5 %, random encoder 8.8 %; 600 steps: 41.3 %), README 'Representation health'.")
    # --- probe heads (official pre-training model; off by default) ------------------------------------------
    probe_heads: bool = Field(
        False,
        description="Train a CTC head and an attention decoder per student on its DETACHED features (character "
        "targets from the clips' `text`), with that student's AdamW; their gradients count toward grad_clip as in "
        "the official code. Logs probe loss, decoder accuracy and greedy-CTC WER. Needs transcripts.",
    )
    probe_decoder_dim: int = Field(256, ge=8, le=4096, description="Probe attention decoder width (official 256).")
    probe_decoder_heads: int = Field(4, ge=1, le=64, description="Probe decoder attention heads (official 4).")
    probe_decoder_units: int = Field(2048, ge=8, le=16384, description="Probe decoder FFN units (official 2048).")
    probe_decoder_layers: int = Field(6, ge=1, le=24, description="Probe decoder blocks (official 6).")

    @model_validator(mode="after")
    def _check(self) -> "RavenParams":
        dims = {"layers": self.layers, "adim": self.adim, "heads": self.heads, "ffn": self.ffn}
        if self.size == "custom":
            missing = [k for k, v in dims.items() if v is None]
            if missing:
                raise ValueError(f"raven.size=custom needs {', '.join(missing)}")
        else:
            given = [k for k, v in dims.items() if v is not None]
            if given:
                raise ValueError(f"raven.{'/'.join(given)} only apply to size=custom (size={self.size})")
        layers, adim, heads, ffn = self.dims()
        if adim % heads:
            raise ValueError(f"raven.heads ({heads}) must divide adim ({adim})")
        if self.predictor_width % self.predictor_heads:
            raise ValueError("raven.predictor_heads must divide predictor_width")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError("raven.betas must lie in [0, 1)")
        if self.probe_decoder_dim % self.probe_decoder_heads:
            raise ValueError("raven.probe_decoder_heads must divide probe_decoder_dim")
        if self.momentum_end < self.momentum_start:
            raise ValueError("raven.momentum_end must be >= momentum_start")
        return self

    def dims(self) -> tuple[int, int, int, int]:
        """(layers, adim, heads, ffn) after resolving the size preset (the custom keys are read either way, so a
        job's params reads do not depend on the size: avssl.config.view)."""
        custom = (self.layers, self.adim, self.heads, self.ffn)
        return custom if self.size == "custom" else _SIZE_DIMS[self.size]  # type: ignore[return-value]

    def encoder_config(self) -> dict[str, Any]:
        """Builder kwargs of `raven_video` / `raven_audio` (what config.json stores)."""
        layers, adim, heads, ffn = self.dims()
        drop_path = self.drop_path if self.drop_path is not None else (0.1 if self.size == "large" else 0.0)
        return dict(layers=layers, adim=adim, heads=heads, ffn=ffn, drop_path=drop_path,
                    frontend_width=self.frontend_width, dropout=self.dropout, attn_dropout=self.attn_dropout,
                    layerscale=0.1)

    def effective_lr(self) -> float:
        return self.lr if self.lr is not None else (2e-3 if self.size == "large" else 3e-3)

    def effective_warmup_fraction(self) -> float:
        if self.warmup_fraction is not None:
            return self.warmup_fraction
        return (30 if self.size == "large" else 40) / 150

