"""Log-mel filterbank "encoder": the hand-crafted reference row (init ``logmel``) of the downstream tables.

Why: a learned encoder is only worth its pre-training if its frozen features beat the signal-processing
features it starts from. This module has no trainable weights; it emits, per 40 ms video frame, the same
log-mel vector the Shukla audio pretext regresses
(:class:`avssl.models.shukla.audio_attributes.AudioAttributes`: per-utterance z-normalised waveform, 25 ms STFT
windows, 4 hops pooled per frame), then normalises every band over the utterance's real frames (cepstral
mean/variance normalisation, the usual speaker/channel compensation for filterbank features).
Same contract as the other encoders:
``encoder(audio (B, N) raw 16 kHz, padding_mask (B, T) True=pad) -> (B, T, n_mels)``, padded frames zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avssl.models.registry import register
from avssl.models.shukla.waveform import HOP, masked_znorm


class LogMelEncoder(nn.Module):
    arch = "logmel"

    def __init__(self, n_mels: int = 40):
        super().__init__()
        from avssl.models.shukla.audio_attributes import AudioAttributes

        if n_mels < 1:
            raise ValueError(f"n_mels must be >= 1, got {n_mels}")
        self.config = {"n_mels": n_mels}
        self.attributes = AudioAttributes(n_mfcc=0, n_mels=n_mels, use_energy=False, use_pitch=False)
        self.output_dim = n_mels

    def forward(self, audio: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        batch, n_frames = audio.shape[0], audio.shape[1] // HOP
        if padding_mask is None:
            padding_mask = torch.zeros(batch, n_frames, dtype=torch.bool, device=audio.device)
        padding_mask = padding_mask[:, :n_frames]
        # One frame of silence after every clip: the last STFT windows then see zeros whether the clip is alone
        # or padded in a batch (the centred STFT would otherwise reflect the signal at the end of the tensor).
        audio = F.pad(audio[:, : n_frames * HOP], (0, HOP))
        feats = self.attributes(audio, F.pad(padding_mask, (0, 1), value=True))[:, :n_frames]  # (B, T, n_mels)
        return masked_znorm(feats, (~padding_mask).to(feats.dtype).unsqueeze(-1))


@register("logmel")
def build_logmel(**config) -> LogMelEncoder:
    return LogMelEncoder(**config)
