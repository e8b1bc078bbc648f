"""Audio-attribute targets for Shukla's audio pretext: per-video-frame (25 Hz) acoustic descriptors.

The paper predicts "informative audio attributes" from the raw-audio encoder; which ones is not known,
so this project regresses (documented choice): MFCC (13), log-mel (40), log-energy, F0 (log Hz) and a
voicing strength, all pooled to exactly one vector per 40 ms video frame. They are computed on the same
per-utterance z-normalised waveform the encoder reads, so absolute recording gain is not a target.

Units differ (cepstra, log power, log Hz, [0, 1]), so targets are standardised per attribute with
running statistics (:class:`RunningStandardizer`) before the L1 loss, giving every attribute a
comparable weight.
"""

from __future__ import annotations

import math

import torch
import torchaudio
from torch import Tensor, nn

from avssl.models.shukla.waveform import HOP, SAMPLE_RATE, frame_windows, utterance_znorm

_EPS = 1e-6
_MEL_HOP = 160  # 10 ms STFT hop: 4 STFT frames per video frame
_PITCH_WINDOW = 1024  # 64 ms centred window: two periods even at 60 Hz


class AudioAttributes(nn.Module):
    """``audio (B, N) raw, padding_mask (B, T) -> attributes (B, T, n_attributes)``; (N,) -> (T, n_attributes).

    Always finite, also on silence (log floors, zero autocorrelation -> voicing 0). ``names`` lists the
    columns; :meth:`weights` says which entries count in a loss (real frames; F0 on voiced frames only).
    """

    def __init__(
        self,
        *,
        n_mfcc: int = 13,
        n_mels: int = 40,
        use_energy: bool = True,
        use_pitch: bool = True,
        f0_min: float = 60.0,
        f0_max: float = 400.0,
        sample_rate: int = SAMPLE_RATE,
        voicing_threshold: float = 0.5,
    ):
        super().__init__()
        bands = n_mels if n_mels > 0 else 40
        if n_mfcc > bands:
            raise ValueError(f"n_mfcc={n_mfcc} > mel bands={bands}")
        self.n_mfcc, self.n_mels, self.use_energy, self.use_pitch = n_mfcc, n_mels, use_energy, use_pitch
        self.sample_rate, self.voicing_threshold = sample_rate, voicing_threshold
        self.lag_min = int(math.floor(sample_rate / f0_max))
        self.lag_max = int(math.ceil(sample_rate / f0_min))
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=512, win_length=400, hop_length=_MEL_HOP, n_mels=bands, center=True
        )
        dct = torchaudio.functional.create_dct(max(n_mfcc, 1), bands, norm="ortho")
        self.register_buffer("dct", dct, persistent=False)
        self.names = (
            [f"mfcc{i}" for i in range(n_mfcc)]
            + [f"logmel{i}" for i in range(n_mels)]
            + (["log_energy"] if use_energy else [])
            + (["log_f0", "voicing"] if use_pitch else [])
        )
        self.dim = len(self.names)

    def forward(self, audio: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        unbatched = audio.dim() == 1
        if unbatched:
            audio = audio.unsqueeze(0)
        n_frames = audio.shape[1] // HOP
        if padding_mask is not None:
            padding_mask = padding_mask[:, :n_frames]
        audio = utterance_znorm(audio[:, : n_frames * HOP].float(), padding_mask)
        columns = []
        if self.n_mfcc or self.n_mels:
            logmel = self._log_mel(audio, n_frames)  # (B, T, bands)
            if self.n_mfcc:
                columns.append(logmel @ self.dct)
            if self.n_mels:
                columns.append(logmel)
        if self.use_energy:
            frames = audio.reshape(audio.shape[0], n_frames, HOP)
            columns.append(torch.log(frames.pow(2).mean(-1, keepdim=True) + _EPS))
        if self.use_pitch:
            columns.append(self._pitch(audio))
        attributes = torch.cat(columns, dim=-1)
        return attributes[0] if unbatched else attributes

    def _log_mel(self, audio: Tensor, n_frames: int) -> Tensor:
        """Mel power averaged over the 4 STFT hops of each video frame, then log (floored for silence)."""
        power = self.mel(audio)[..., : 4 * n_frames]  # centred STFT gives N // 160 + 1 >= 4T frames
        power = power.reshape(*power.shape[:2], n_frames, 4).mean(-1)
        return torch.log(power + _EPS).transpose(1, 2)

    def _pitch(self, audio: Tensor) -> Tensor:
        """Autocorrelation pitch per video frame -> (B, T, 2): [log F0, voicing strength in [0, 1]].

        The lag is picked on the biased normalised autocorrelation (which favours the shortest period and
        so avoids sub-octave errors); voicing is the unbiased value at that lag. Unvoiced frames keep
        their (meaningless but finite) F0; :meth:`weights` drops them from the loss.
        """
        windows = frame_windows(audio, _PITCH_WINDOW)
        windows = windows - windows.mean(-1, keepdim=True)
        spectrum = torch.fft.rfft(windows, n=2 * _PITCH_WINDOW)
        autocorr = torch.fft.irfft(spectrum.abs().pow(2), n=2 * _PITCH_WINDOW)[..., : self.lag_max + 1]
        energy = autocorr[..., :1]
        lags = torch.arange(self.lag_min, self.lag_max + 1, device=audio.device)
        biased = autocorr[..., lags] / (energy + _EPS * _PITCH_WINDOW)
        best = biased.argmax(-1, keepdim=True)
        lag = lags[best].to(audio.dtype)
        voicing = (biased.gather(-1, best) * _PITCH_WINDOW / (_PITCH_WINDOW - lag)).clamp(0.0, 1.0)
        return torch.cat([torch.log(self.sample_rate / lag), voicing], dim=-1)

    def weights(self, attributes: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        """Loss weights shaped like ``attributes`` (raw, not standardised): 0 on padding and on unvoiced F0."""
        weights = torch.ones_like(attributes)
        if padding_mask is not None:
            weights = weights * (~padding_mask[:, : attributes.shape[1]]).unsqueeze(-1).to(weights.dtype)
        if self.use_pitch:
            voiced = (attributes[..., -1] >= self.voicing_threshold).to(weights.dtype)
            weights[..., -2] = weights[..., -2] * voiced
        return weights


class RunningStandardizer(nn.Module):
    """Per-attribute standardisation with running statistics over weighted (real) entries.

    Like BatchNorm's running stats but on targets and without gradients: the first batch initialises
    mean / std exactly (no cold start), later training batches update them as an EMA with ``momentum``
    (0 = frozen after the first batch). The statistics are buffers, so a resumed run continues
    identically.
    """

    def __init__(self, n_attributes: int, momentum: float = 0.01, min_std: float = 1e-3):
        super().__init__()
        self.momentum, self.min_std = momentum, min_std
        self.register_buffer("mean", torch.zeros(n_attributes))
        self.register_buffer("std", torch.ones(n_attributes))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, values: Tensor, weights: Tensor) -> None:
        values, weights = values.reshape(-1, values.shape[-1]), weights.reshape(-1, weights.shape[-1])
        count = weights.sum(0)
        seen = count > 0
        mean = (values * weights).sum(0) / count.clamp_min(1.0)
        std = ((((values - mean) ** 2) * weights).sum(0) / count.clamp_min(1.0)).sqrt().clamp_min(self.min_std)
        rate = torch.full_like(mean, 1.0 if not bool(self.initialised) else self.momentum)
        rate = rate * seen.to(rate.dtype)  # attributes absent from this batch keep their statistics
        self.mean.lerp_(mean, rate)
        self.std.lerp_(std, rate)
        self.initialised.fill_(True)

    def forward(self, values: Tensor, weights: Tensor) -> Tensor:
        if self.training or not bool(self.initialised):
            self.update(values, weights)
        return (values - self.mean) / self.std
