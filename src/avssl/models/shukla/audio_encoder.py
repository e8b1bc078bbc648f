"""Raw-audio encoder: one CNN code per 40 ms video frame, then a GRU -> 25 Hz speech features.

Follows the audio branch of the lab's talking-face generator (Vougioukas et al.), which Shukla et al.
build on: every video frame gets a window of raw audio centred on it, a 1-D CNN turns the window into a
code (first conv 5 ms kernel / 1 ms stride, then strides = prime factors of what is left with kernel =
2 x stride, channels doubling, BN + ReLU, last conv to the code with tanh), and a 2-layer GRU runs over
the per-frame codes. For 0.2 s windows at 16 kHz this is exactly
Conv1d(1,16,80,s16,p32) -> (16,32,4,s2,p1) -> (32,64,4,s2,p1) -> (64,128,4,s2,p1) -> (128,256,10,s5,p3)
-> (256,code,5) -> tanh.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from avssl.models.gru import run_gru
from avssl.models.shukla.waveform import HOP, SAMPLE_RATE, frame_windows, utterance_znorm


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    if n > 1:
        factors.append(n)
    return factors


class WindowCNN(nn.Module):
    """(W, window) raw samples -> (W, code_dim): the per-frame window encoder."""

    def __init__(self, window: int, channels: int = 16, code_dim: int = 512, sample_rate: int = SAMPLE_RATE):
        super().__init__()
        kernel, stride = sample_rate // 200, sample_rate // 1000  # 5 ms kernel, 1 ms stride
        if window % stride:
            raise ValueError(f"window of {window} samples is not a multiple of 1 ms ({stride} samples)")
        factors = _prime_factors(window // stride)
        if not factors:  # a 1 ms window: nothing left to reduce, the last conv is 1x1
            factors = [1]
        layers: list[nn.Module] = [
            nn.Conv1d(1, channels, kernel, stride=stride, padding=(kernel - stride) // 2, bias=False),
            nn.BatchNorm1d(channels),
            nn.ReLU(inplace=True),
        ]
        width = channels
        for s in factors[:-1]:  # each conv divides the length by its stride exactly
            layers += [
                nn.Conv1d(width, width * 2, 2 * s, stride=s, padding=(s + 1) // 2, bias=False),
                nn.BatchNorm1d(width * 2),
                nn.ReLU(inplace=True),
            ]
            width *= 2
        layers += [nn.Conv1d(width, code_dim, factors[-1]), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, windows: Tensor) -> Tensor:
        return self.net(windows.unsqueeze(1)).squeeze(-1)


class ShuklaAudioEncoder(nn.Module):
    """``encoder(audio (B,N) raw 16 kHz, padding_mask (B,T) True=pad) -> (B, T, D)``, T = N // 640.

    The waveform is z-normalised per utterance inside (over real samples only), so callers pass raw
    audio. Padded frames are never fed to the CNN (BatchNorm statistics see real windows only) and
    come out as zeros; the GRU is unidirectional, so real frames do not depend on trailing padding.
    """

    arch = "shukla_audio"

    def __init__(self, *, window_s: float = 0.2, cnn_channels: int = 16, code_dim: int = 512, gru_hidden: int = 256,
                 gru_layers: int = 2):  # fmt: skip
        super().__init__()
        # the builder kwargs config.json stores (models.registry.build rebuilds the encoder from them)
        self.config = dict(window_s=window_s, cnn_channels=cnn_channels, code_dim=code_dim, gru_hidden=gru_hidden,
                           gru_layers=gru_layers)  # fmt: skip
        self.window = int(round(window_s * SAMPLE_RATE))
        self.cnn = WindowCNN(self.window, cnn_channels, code_dim)
        self.gru = nn.GRU(code_dim, gru_hidden, num_layers=gru_layers, batch_first=True)
        self.code_dim = code_dim
        self.output_dim = gru_hidden

    def forward(self, audio: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        batch, n_frames = audio.shape[0], audio.shape[1] // HOP
        if padding_mask is not None:
            padding_mask = padding_mask[:, :n_frames]
        audio = utterance_znorm(audio[:, : n_frames * HOP], padding_mask)
        windows = frame_windows(audio, self.window)  # (B, T, window)
        valid = torch.ones(batch, n_frames, dtype=torch.bool, device=audio.device)
        if padding_mask is not None:
            valid = ~padding_mask
        real_codes = self.cnn(windows[valid])  # padded windows never reach the CNN (nor BatchNorm)
        codes = real_codes.new_zeros(batch, n_frames, self.code_dim)  # dtype follows autocast
        codes[valid] = real_codes
        features = run_gru(self.gru, codes)  # causal: padding at the end never reaches valid frames
        return features * valid.unsqueeze(-1).to(features.dtype)
