"""What every downstream objective shares: running the (optionally frozen) encoder on a batch.

Contract (docs/design.md): ``forward(batch) -> {"loss", ...}``, ``param_groups()``, ``on_step_end``,
``encoders()``; downstream objectives add ``predict(batch)``. ``param_groups()`` returns ONE optimiser dict
``{"name": "finetune", "params": [torch param groups with their own "lr"], "lr", "weight_decay", "betas", ...}``
so that encoder layers and heads can have different learning rates inside one AdamW (one global gradient-norm
clip); a scheduler that multiplies each group's initial lr by the same factor preserves the ratios.

Training-time input augmentation happens in :meth:`FinetuneObjective.augment_input` (only in train mode):
optional additive noise (``noise_augment``, a :class:`avssl.tasks.noise.NoiseAugment`, audio only), extended by
subclasses (time masking for ASR/VSR with a fine-tuned encoder). A frozen audio encoder whose input is not
augmented has fixed features, so they are computed once per clip (:meth:`FinetuneObjective._cacheable`), or
read from the `features` stage's files (:meth:`FinetuneObjective.use_features`, avssl.tasks.features); then the data
loader does not load those clips' samples at all (:meth:`FinetuneObjective.reads_input`).

Frozen encoder: no gradients, kept in eval mode (BatchNorm statistics and dropout must not change — the
"frozen" baseline measures the pre-trained representation as is), excluded from the optimiser. Its features are
standardised per dimension before the head when ``feature_norm_dim`` is given (:mod:`avssl.tasks.feature_norm`).
"""

from __future__ import annotations

import torch
from torch import nn

from avssl.tasks.feature_norm import FrameStandardiser

from avssl.media import SAMPLES_PER_FRAME


def frame_padding_mask(batch: dict, n_frames: int) -> torch.Tensor | None:
    """The batch's (B, T) padding mask (True = padding) cropped/padded to the encoder's output length."""
    pm = batch.get("padding_mask")
    if pm is None:
        lengths = batch.get("lengths")
        if lengths is None:
            return None
        ar = torch.arange(n_frames, device=lengths.device)
        return ar[None, :] >= lengths[:, None]
    if pm.shape[1] >= n_frames:
        return pm[:, :n_frames]
    pad = torch.ones(pm.shape[0], n_frames - pm.shape[1], dtype=torch.bool, device=pm.device)
    return torch.cat([pm, pad], dim=1)


def _padded(feats: list[torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
    """Per-clip (T_i, D) features zero-padded into one (B, T, D) batch (T: the longest clip or feature)."""
    t = max(int(lengths.max()), max(f.shape[0] for f in feats))
    out = feats[0].new_zeros(len(feats), t, feats[0].shape[-1])
    for b, f in enumerate(feats):
        out[b, : f.shape[0]] = f
    return out


class FinetuneObjective(nn.Module):
    def __init__(self, encoder: nn.Module, modality: str, freeze_encoder: bool = False, noise_augment=None,
                 feature_norm_dim: int | None = None):
        super().__init__()
        self.noise_augment = noise_augment
        if modality not in ("audio", "video"):
            raise ValueError(f"modality must be 'audio' or 'video', got {modality!r}")
        self.encoder = encoder
        self.modality = modality
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            for p in self.encoder.parameters():
                p.requires_grad_(False)
            self.encoder.eval()
        # frozen features are standardised per dimension before the head (avssl.tasks.feature_norm explains why)
        self.feature_norm = FrameStandardiser(feature_norm_dim) if freeze_encoder and feature_norm_dim else None

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def augment_input(self, x: torch.Tensor, batch: dict) -> torch.Tensor:
        if self.noise_augment is not None and self.modality == "audio":
            lengths = batch.get("lengths")
            n_valid = None if lengths is None else lengths * SAMPLES_PER_FRAME
            x = self.noise_augment(x, n_valid, batch.get("speaker"))
        return x

    def augments_input(self) -> bool:
        """Whether :meth:`augment_input` changes the training input (then frozen features differ every epoch).

        Subclasses that add augmentations override both methods."""
        return self.noise_augment is not None

    def _caches_features(self, training: bool) -> bool:
        """Frozen audio encoder, no input augmentation: its features never change, so compute them once.

        Training only (evaluation feeds the same clip ids with different noise); video is excluded (random
        crops/flips change the input each epoch), and so is any objective that augments its input."""
        return training and self.freeze_encoder and self.modality == "audio" and not self.augments_input()

    def _cacheable(self, batch: dict) -> bool:
        return self._caches_features(self.training) and "clip_id" in batch and "lengths" in batch

    def reads_input(self, clip_id: str, training: bool) -> bool:
        """Whether :meth:`encode` of a batch (in train or eval mode) reads ``batch[modality]`` of ``clip_id``: not
        when its features come from the table (:meth:`use_features`), nor from the in-process cache once the clip
        was encoded. The data loader leaves out the samples the model will not read
        (:class:`avssl.data.batching.ClipDataset` ``needs_samples``); the batch keeps clip ids, lengths and labels."""
        if self._table_serves(training):
            return False
        if self._caches_features(training):
            return clip_id not in self.__dict__.get("_feature_cache", {})
        return True

    def use_features(self, table) -> None:
        """Read the frozen encoder's features from ``table`` ({clip_id: (T, D)}, see avssl.tasks.features) instead
        of running it: always in eval mode, in training when the input is not augmented (:meth:`_cacheable`).
        ``None`` goes back to running the encoder."""
        if table is not None and not self.freeze_encoder:
            raise ValueError("cached features stand for a frozen encoder; this objective fine-tunes its encoder")
        self._feature_table = table

    def _table_serves(self, training: bool) -> bool:
        """The `features` table stands for the encoder: always in eval mode, in training when its input is fixed."""
        return getattr(self, "_feature_table", None) is not None and (not training or self._caches_features(True))

    def _uses_table(self, batch: dict) -> bool:
        return self._table_serves(self.training) and "clip_id" in batch and "lengths" in batch

    def _cached_features(self, batch: dict) -> torch.Tensor:
        """Per-clip features computed alone (batch of one, no padding), so they do not depend on which clips
        share a batch: a resumed or re-ordered run sees exactly the same numbers."""
        from avssl.models.encode import clip_features

        cache = self.__dict__.setdefault("_feature_cache", {})
        lengths = batch["lengths"]
        for b, clip in enumerate(batch["clip_id"]):
            if clip not in cache:  # the loader sends samples of the clips not encoded yet (reads_input)
                x = batch[self.modality]
                cache[clip] = clip_features(self.encoder, x[b : b + 1], int(lengths[b]), self.modality)
        return _padded([cache[c] for c in batch["clip_id"]], lengths)

    def encode(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(features (B, T, D), padding mask (B, T) or None); inputs are augmented in train mode."""
        if self._uses_table(batch):
            device = batch["lengths"].device
            feats = _padded([self._feature_table[c].to(device) for c in batch["clip_id"]], batch["lengths"])
            return self._standardise(feats, frame_padding_mask(batch, feats.shape[1]))
        if self._cacheable(batch):
            feats = self._cached_features(batch)
            return self._standardise(feats, frame_padding_mask(batch, feats.shape[1]))
        x = batch[self.modality]
        if self.training:
            x = self.augment_input(x, batch)
        pm = batch.get("padding_mask")
        if self.freeze_encoder:
            with torch.no_grad():
                feats = self.encoder(x, padding_mask=pm)
        else:
            feats = self.encoder(x, padding_mask=pm)
        return self._standardise(feats, frame_padding_mask(batch, feats.shape[1]))

    def _standardise(self, feats: torch.Tensor, pm: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        return (feats if self.feature_norm is None else self.feature_norm(feats, pm)), pm

    def head_and_encoder_groups(self, *head: nn.Module) -> list[dict]:
        """Optimiser groups of a recurrent head (``head`` modules, lr_head) and, unless frozen, the encoder
        (lr_encoder): the parameter layout the utterance and per-frame heads share."""
        groups = [{"name": "head", "params": [p for m in head for p in m.parameters()],
                   "lr": self.lr_head, "weight_decay": self.weight_decay}]  # fmt: skip
        if not self.freeze_encoder:
            groups.append({"name": "encoder", "params": [p for p in self.encoder.parameters() if p.requires_grad],
                           "lr": self.lr_encoder, "weight_decay": self.weight_decay})  # fmt: skip
        return [{"name": "finetune", "params": groups, "lr": self.lr_head, "weight_decay": self.weight_decay,
                 "betas": self.betas, "optimizer": self.optimizer}]  # fmt: skip

    def encoders(self) -> dict[str, nn.Module]:
        return {self.modality: self.encoder}

    def on_step_end(self, step: int, total_steps: int) -> dict[str, float]:
        return {}
