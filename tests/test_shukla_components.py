"""Shukla components: config, raw-audio encoder (shapes, registry, padding), face models, audio attributes."""

import math

import pytest
import torch
from pydantic import ValidationError

from avssl.config.shukla import ShuklaParams
from avssl.models.registry import build
from avssl.models.shukla import FrameDecoder, IdentityEncoder, ShuklaAudioEncoder
from avssl.models.shukla.audio_attributes import AudioAttributes, RunningStandardizer



pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY_ENCODER = dict(window_s=0.2, cnn_channels=4, code_dim=32, gru_hidden=24, gru_layers=2)


def test_params_defaults_and_validation():
    p = ShuklaParams()
    assert (p.window_s, p.code_dim, p.gru_hidden, p.audio_lambda, p.lr, p.mouth_top) == (0.2, 512, 256, 1.0, 1e-4, 0.5)
    with pytest.raises(ValidationError):
        ShuklaParams(window_s=0.2005)  # not a whole number of ms
    with pytest.raises(ValidationError):
        ShuklaParams(face_size=72, identity_layers=4)
    with pytest.raises(ValidationError):
        ShuklaParams(unknown_key=1)


def test_default_window_cnn_is_the_documented_layout():
    convs = [m for m in ShuklaAudioEncoder().cnn.modules() if isinstance(m, torch.nn.Conv1d)]
    layout = [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.padding[0]) for c in convs]
    assert layout == [(1, 16, 80, 16, 32), (16, 32, 4, 2, 1), (32, 64, 4, 2, 1), (64, 128, 4, 2, 1),
                      (128, 256, 10, 5, 3), (256, 512, 5, 1, 0)]


@pytest.mark.parametrize("window_s", [0.04, 0.12, 0.2])
def test_encoder_shapes_at_25hz_and_registry_roundtrip(window_s):
    torch.manual_seed(0)
    encoder = build("shukla_audio", **{**TINY_ENCODER, "window_s": window_s})
    assert encoder.arch == "shukla_audio" and encoder.output_dim == 24
    features = encoder(torch.randn(3, 7 * 640 + 123))  # trailing samples belong to no frame
    assert features.shape == (3, 7, 24)
    rebuilt = build(encoder.arch, **encoder.config)
    rebuilt.load_state_dict(encoder.state_dict())
    encoder.eval(), rebuilt.eval()
    audio = torch.randn(2, 5 * 640)
    assert torch.equal(encoder(audio), rebuilt(audio))


def test_encoder_ignores_padding_and_gain():
    torch.manual_seed(0)
    encoder = ShuklaAudioEncoder(**TINY_ENCODER).eval()
    short = torch.randn(1, 6 * 640)
    padded = torch.cat([short, 5 * torch.randn(1, 4 * 640)], dim=1)  # garbage in the padding
    mask = torch.tensor([[False] * 6 + [True] * 4])
    out_padded = encoder(padded, mask)
    assert torch.allclose(out_padded[:, :6], encoder(short), atol=1e-5)
    assert out_padded[:, 6:].abs().max() == 0
    assert torch.allclose(encoder(3.0 * short + 0.1), encoder(short), atol=1e-4)  # per-utterance z-norm


@pytest.mark.parametrize("size,layers", [(64, 4), (96, 4), (32, 3)])
def test_identity_encoder_and_decoder_shapes(size, layers):
    identity_encoder = IdentityEncoder(size, 1, base_channels=4, n_layers=layers, code_dim=8)
    decoder = FrameDecoder(
        audio_dim=6, identity_dim=8, image_size=size, out_channels=1, base_channels=4, n_layers=layers
    )
    code, skips = identity_encoder(torch.rand(3, 1, size, size) * 2 - 1)
    assert code.shape == (3, 8) and code.abs().max() <= 1
    assert [s.shape[-1] for s in skips] == [size // 2 ** (i + 1) for i in range(layers)]
    frames = decoder(torch.randn(3, 6), code, skips)
    assert frames.shape == (3, 1, size, size) and frames.abs().max() <= 1


def test_attributes_shape_names_and_silence():
    attributes = AudioAttributes()
    assert attributes.dim == 13 + 40 + 1 + 2 == len(attributes.names)
    silence = attributes(torch.zeros(9 * 640))
    assert silence.shape == (9, attributes.dim) and torch.isfinite(silence).all()
    assert (silence[:, attributes.names.index("voicing")] == 0).all()
    batch = attributes(torch.randn(2, 9 * 640 + 100), torch.zeros(2, 9, dtype=torch.bool))
    assert batch.shape == (2, 9, attributes.dim) and torch.isfinite(batch).all()


def test_pitch_of_a_harmonic_tone():
    attributes = AudioAttributes()
    t = torch.arange(10 * 640) / 16000
    for f0 in (100.0, 220.0):
        tone = torch.sin(2 * math.pi * f0 * t) + 0.4 * torch.sin(2 * math.pi * 2 * f0 * t)
        out = attributes(tone)
        assert abs(out[5, attributes.names.index("log_f0")].exp().item() - f0) < 0.03 * f0
        assert out[5, attributes.names.index("voicing")] > 0.9


def test_attributes_follow_loudness_and_weights_mask_padding_and_unvoiced():
    attributes = AudioAttributes()
    t = torch.arange(8 * 640) / 16000
    envelope = torch.ones(8).repeat_interleave(640)
    envelope[4 * 640 :] = 0.1
    tone = torch.sin(2 * math.pi * 150 * t) * envelope
    out = attributes(tone.unsqueeze(0))
    energy = out[0, :, attributes.names.index("log_energy")]
    assert energy[1] - energy[6] > 3.0  # 20 dB quieter = 4.6 in natural log power
    noise_and_pad = attributes(torch.randn(1, 8 * 640))
    mask = torch.tensor([[False] * 5 + [True] * 3])
    weights = attributes.weights(noise_and_pad, mask)
    assert (weights[0, 5:] == 0).all() and (weights[0, :5, 0] == 1).all()
    assert (weights[0, :5, attributes.names.index("log_f0")] == 0).all()  # white noise is unvoiced


def test_running_standardizer():
    standardizer = RunningStandardizer(2, momentum=0.0)
    values = torch.tensor([[1.0, 10.0], [3.0, 30.0], [100.0, 1000.0]])
    weights = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])  # the last row is padding
    out = standardizer(values, weights)
    assert torch.allclose(out[:2], torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    standardizer(values * 7, torch.ones_like(values))  # momentum 0: frozen after the first batch
    assert torch.allclose(standardizer.mean, torch.tensor([2.0, 20.0]))
