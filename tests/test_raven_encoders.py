"""RAVEn encoders: published parameter counts, official key layout (strict load), shapes, attention maths."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch

from avssl.config.raven import RavenParams
from avssl.models import registry
from avssl.models.checkpoint import export_official
from avssl.models.raven import Predictor, raven_audio, raven_video
from avssl.models.raven.attention import relative_sinusoids, rel_shift

from conftest import RAVEN_TINY as TINY

REF = Path("/work/shared/reference/raven_state_dicts")
if not REF.exists():
    REF = Path(__file__).resolve().parents[1] / "shared" / "reference" / "raven_state_dicts"
TINY_CFG = RavenParams(**TINY).encoder_config()
PUBLISHED = {("video", "base"): 52_445_376, ("audio", "base"): 45_111_168,
             ("video", "large"): 339_283_648, ("audio", "large"): 331_949_440}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def read_tsv(name: str) -> dict[str, tuple[int, ...]]:
    path = REF / name
    if not path.exists():
        pytest.skip(f"reference {path} not available")
    out = {}
    for line in path.read_text().splitlines():
        key, shape = line.split("\t")
        out[key] = tuple(ast.literal_eval(shape))
    return out


def random_state(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {k: (torch.randint(0, 100, s, generator=g) if k.endswith("num_batches_tracked")
                else torch.randn(s, generator=g)) for k, s in shapes.items()}


@pytest.mark.parametrize("modality,size", list(PUBLISHED))
def test_published_parameter_counts(modality, size):
    with torch.device("meta"):
        enc = registry.build(f"raven_{modality}", size=size)
    assert sum(p.numel() for p in enc.parameters()) == PUBLISHED[(modality, size)]


@pytest.mark.parametrize("modality", ["video", "audio"])
def test_official_state_dict_loads_strictly_and_exports_back(modality):
    shapes = read_tsv(f"{modality}_base.tsv")
    official = {k[len("encoder."):]: v for k, v in random_state(shapes).items() if k.startswith("encoder.")}
    enc = registry.build(f"raven_{modality}", size="base")
    enc.load_state_dict(official, strict=True)
    exported = export_official(enc, prefix=True)
    assert set(exported) == {k for k in shapes if k.startswith("encoder.")}
    assert all(torch.equal(exported["encoder." + k], v) for k, v in official.items())


def test_predictor_keys_match_official_pretraining_model():
    shapes = read_tsv("pretrain_predictors_base.tsv")
    names = {k.split(".")[0] + "." + k.split(".")[1] for k in shapes}
    assert names == {"model_video.predictor_cross", "model_audio.predictor_within"}  # what the TSV lists
    state = random_state(shapes)
    for name in names:
        pred = Predictor(512, 512)  # Base: width 512, 8 heads, FFN 2048, 2 blocks
        pred.load_state_dict({k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")},
                             strict=True)
    # and the objective exposes them under the same names
    from avssl.training.raven import RavenObjective

    with torch.device("meta"):
        obj = RavenObjective(RavenParams())
    ours = {k: tuple(v.shape) for k, v in obj.state_dict().items() if ".predictor_" in k}
    # model_audio.predictor_cross (a->v) is not in the TSV; it has the same layout as predictor_within.
    within = {k: v for k, v in shapes.items() if k.startswith("model_audio.predictor_within.")}
    expected = dict(shapes, **{k.replace("predictor_within", "predictor_cross"): v for k, v in within.items()})
    assert ours == expected


@pytest.mark.parametrize("layout", ["BTHW", "BT1HW"])
def test_video_shapes_25hz(layout):
    enc = raven_video(**TINY_CFG).eval()
    x = torch.randn(2, 7, 88, 88)
    if layout == "BT1HW":
        x = x.unsqueeze(2)
    assert enc(x).shape == (2, 7, TINY_CFG["adim"])


@pytest.mark.parametrize("layout", ["BN", "BN1"])
def test_audio_shapes_25hz(layout):
    enc = raven_audio(**TINY_CFG).eval()
    x = torch.randn(2, 7 * 640 + 123)  # trailing partial frame is dropped
    if layout == "BN1":
        x = x.unsqueeze(-1)
    assert enc(x).shape == (2, 7, TINY_CFG["adim"])


def test_rel_shift_matches_offset_indexing():
    T = 6
    bd = torch.randn(2, 3, T, 2 * T - 1)
    shifted = rel_shift(bd)
    for i in range(T):
        for j in range(T):
            assert torch.equal(shifted[..., i, j], bd[..., i, T - 1 - i + j])  # pos index p <-> offset i-j = T-1-p


def test_relative_sinusoids_offsets():
    pe = relative_sinusoids(4, 8)
    assert pe.shape == (7, 8)
    assert torch.allclose(pe[3], torch.tensor([0.0, 1.0] * 4))  # offset 0
    assert torch.allclose(pe[0, 0], torch.sin(torch.tensor(3.0)))  # offset +3, first frequency


def explicit_attention(attn, x, pos, pad):
    """The published formula with plain matmuls: softmax((AC + shift(BD)) / sqrt(d_k)) with masked keys."""
    B, T, C = x.shape
    h, d = attn.h, attn.d_k
    split = lambda t: t.view(t.shape[0], -1, h, d).transpose(1, 2)  # noqa: E731
    q, k, v = split(attn.linear_q(x)), split(attn.linear_k(x)), split(attn.linear_v(x))
    p = split(attn.linear_pos(pos))
    ac = (q + attn.pos_bias_u[:, None]) @ k.transpose(-2, -1)
    bd_full = (q + attn.pos_bias_v[:, None]) @ p.transpose(-2, -1)
    idx = (T - 1 - torch.arange(T)[:, None] + torch.arange(T)[None, :])
    bd = bd_full.gather(-1, idx.expand(B, h, T, T))
    scores = (ac + bd) / math.sqrt(d)
    scores = scores.masked_fill(pad[:, None, None, :], float("-inf"))
    out = torch.softmax(scores, -1) @ v
    return attn.linear_out(out.transpose(1, 2).reshape(B, T, C))


def test_fused_attention_equals_explicit_formula():
    from avssl.models.raven.attention import RelPositionMultiHeadedAttention, key_padding_bias

    torch.manual_seed(0)
    attn = RelPositionMultiHeadedAttention(32, 4).eval()
    x = torch.randn(3, 9, 32)
    pos = relative_sinusoids(9, 32).unsqueeze(0)
    pad = torch.zeros(3, 9, dtype=torch.bool)
    pad[1, 6:] = True
    pad[2, 2:] = True
    ours = attn(x, pos, key_padding_bias(pad, x.dtype))
    ref = explicit_attention(attn, x, pos, pad)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_padded_frames_do_not_leak_into_valid_frames():
    torch.manual_seed(0)
    enc = raven_audio(**TINY_CFG).eval()
    feats = torch.randn(2, 10, enc.frontend.out_dim)
    pad = torch.zeros(2, 10, dtype=torch.bool)
    pad[0, 6:] = True
    out1 = enc.forward_transformer(feats, pad)
    feats2 = feats.clone()
    feats2[0, 6:] = 1e3 * torch.randn(4, enc.frontend.out_dim)
    out2 = enc.forward_transformer(feats2, pad)
    assert torch.allclose(out1[0, :6], out2[0, :6], atol=1e-5)
    assert torch.allclose(out1[1], out2[1], atol=1e-5)


def test_video_batch_with_padding_equals_single_clip():
    torch.manual_seed(0)
    enc = raven_video(**TINY_CFG).eval()
    short = torch.randn(1, 5, 88, 88)
    batch = torch.cat([torch.cat([short, torch.zeros(1, 3, 88, 88)], 1), torch.randn(1, 8, 88, 88)])
    pad = torch.zeros(2, 8, dtype=torch.bool)
    pad[0, 5:] = True
    assert torch.allclose(enc(batch, pad)[0, :5], enc(short)[0], atol=1e-4)


def test_backward_reaches_every_parameter():
    enc = raven_video(**TINY_CFG).train()
    enc(torch.randn(2, 4, 88, 88)).pow(2).mean().backward()
    assert all(p.grad is not None for p in enc.parameters())


def test_custom_size_and_unknown_option():
    enc = registry.build("raven_audio", layers=1, adim=48, heads=3, ffn=96, frontend_width=4)
    assert enc.config["adim"] == 48 and len(enc.encoders) == 1
    with pytest.raises(TypeError):
        registry.build("raven_audio", size="base", nonsense=1)
    with pytest.raises(ValueError):
        registry.build("raven_audio", size="huge")


def test_eager_attention_path_matches_fused(monkeypatch):
    from avssl.models.raven.attention import RelPositionMultiHeadedAttention

    torch.manual_seed(0)
    enc = raven_video(**TINY_CFG).eval()
    x = torch.randn(2, 6, 88, 88)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[1, 4:] = True
    fused = enc(x, pad)
    monkeypatch.setattr(RelPositionMultiHeadedAttention, "use_sdpa", False)
    assert torch.allclose(enc(x, pad), fused, atol=1e-5)


def test_frame_max_pool_equals_max_pool2d_bit_for_bit():
    """The stem's CPU pool (channels-last forward, NCHW backward) gives max_pool2d's values and gradients exactly,
    also where flat image regions make windows tie."""
    import torch.nn.functional as F

    from avssl.models.raven.frontend import frame_max_pool

    torch.manual_seed(0)
    x = torch.randn(2, 6, 13, 12)
    x[:, :, :5] = 0.25  # ties: several maxima in one window
    weight = torch.randn(2, 6, 7, 6)
    grads = []
    for pool in (frame_max_pool, lambda t: F.max_pool2d(t, 3, 2, 1)):
        leaf = x.clone().requires_grad_(True)
        out = pool(leaf)
        (out * weight).sum().backward()
        grads.append((out.detach(), leaf.grad))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])
    with torch.no_grad():
        assert torch.equal(frame_max_pool(x), F.max_pool2d(x, 3, 2, 1))
