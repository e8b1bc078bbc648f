"""Nuisance-cue "encoder": how far a model gets from timing and loudness alone (init ``nuisance``).

Why: an emotion or word classifier can score above chance from cues that need no speech content at all — when
the speech starts and stops, how long the clip is, how loud it is. A reader can only call an encoder's score
"speech understanding" if it beats this row. The module has no trainable weights; per 40 ms video frame it
emits six numbers and nothing spectral:

- frame loudness (log10 RMS of the raw frame),
- voice activity (frame within 30 dB of the utterance's loudest frame),
- position in the clip (0 at the first frame, 1 at the last real frame),
- clip length (frames / 100),
- seconds since the first voiced frame and until the last voiced frame (speech onset/offset, duration).

Same contract as the other encoders: ``encoder(audio (B, N) raw 16 kHz, padding_mask (B, T) True=pad) ->
(B, T, 6)``, padded frames zero. Every feature is computed per clip from its real frames, so a clip gives the
same features alone or padded in a batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from avssl.media import FPS
from avssl.models.registry import register
from avssl.models.shukla.waveform import HOP

FEATURES = ("log_rms", "voiced", "position", "clip_length", "since_onset_s", "until_offset_s")
VAD_RANGE_DB = 30.0


class NuisanceEncoder(nn.Module):
    arch = "nuisance"

    def __init__(self):
        super().__init__()
        self.config: dict = {}
        self.output_dim = len(FEATURES)

    def forward(self, audio: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        batch, n_frames = audio.shape[0], audio.shape[1] // HOP
        if padding_mask is None:
            padding_mask = torch.zeros(batch, n_frames, dtype=torch.bool, device=audio.device)
        real = ~padding_mask[:, :n_frames]
        frames = audio[:, : n_frames * HOP].reshape(batch, n_frames, HOP).float()
        log_rms = torch.log10(frames.pow(2).mean(-1).sqrt() + 1e-6)  # (B, T)
        loudest = log_rms.masked_fill(~real, -torch.inf).amax(dim=1, keepdim=True)
        voiced = (log_rms > loudest - VAD_RANGE_DB / 20) & real
        t = torch.arange(n_frames, device=audio.device, dtype=torch.float32).expand(batch, n_frames)
        length = real.sum(dim=1, keepdim=True).float()
        any_voiced = voiced.any(dim=1, keepdim=True)
        onset = torch.where(any_voiced, t.masked_fill(~voiced, torch.inf).amin(dim=1, keepdim=True), 0.0)
        offset = torch.where(any_voiced, t.masked_fill(~voiced, -torch.inf).amax(dim=1, keepdim=True), length - 1)
        feats = torch.stack([
            log_rms + 2.5,
            voiced.float(),
            t / (length - 1).clamp(min=1),
            length.expand(batch, n_frames) / 100,
            (t - onset) / FPS,
            (offset - t) / FPS,
        ], dim=-1)  # fmt: skip
        return feats * real.unsqueeze(-1)


@register("nuisance")
def build_nuisance(**config) -> NuisanceEncoder:
    if config:
        raise ValueError(f"the nuisance encoder takes no configuration, got {sorted(config)}")
    return NuisanceEncoder()
