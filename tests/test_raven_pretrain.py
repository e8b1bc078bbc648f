"""RAVEn pre-training objective on a tiny model: masking, EMA teachers, losses that learn, no collapse."""

from __future__ import annotations

import math

import pytest
import torch

from avssl.config.raven import RavenParams
from avssl.training.ema import cosine_momentum
from avssl.training.masking import expected_mask_fraction, mask_audio, mask_video, span_mask
from avssl.training.raven import RavenObjective, build_objective

from conftest import RAVEN_TINY as TINY


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def structured_batch(B=4, T=24, K=4, seed=0):
    """Frames driven by a shared latent class sequence: video = class template, audio = class tone (+ noise)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randint(0, K, (B, T // 3), generator=g).repeat_interleave(3, 1)  # 3-frame segments
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 88), torch.linspace(-1, 1, 88), indexing="ij")
    templates = torch.stack([torch.sin(3 * (k + 1) * xx + k) * torch.cos(2 * (k + 1) * yy) for k in range(K)])
    video = templates[z] + 0.1 * torch.randn(B, T, 88, 88, generator=g)
    t = torch.arange(640) / 16000
    tones = torch.stack([0.5 * torch.sin(2 * math.pi * 200 * (k + 1) * t) for k in range(K)])
    audio = tones[z].flatten(1) + 0.02 * torch.randn(B, T * 640, generator=g)
    lengths = torch.tensor([T] * (B - 1) + [T - 6])
    return {"video": video, "audio": audio, "lengths": lengths}


def tiny(**kw) -> RavenObjective:
    torch.manual_seed(0)
    return build_objective(RavenParams(**{**TINY, **kw}))


@pytest.mark.parametrize("mode", ["fairseq", "literal"])
def test_masked_fraction_matches_configuration(mode):
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(50, 200, (400,), generator=g)
    mask = span_mask(lengths, 200, 0.2, 3, mode, generator=g)
    valid = torch.arange(200)[None] < lengths[:, None]
    assert not (mask & ~valid).any(), "spans must not cover padding"
    frac = (mask.sum() / valid.sum()).item()
    nominal = 0.2 if mode == "fairseq" else 1 - 0.8 ** 3  # ~0.2 (official) / ~0.488 (literal reading)
    assert abs(frac - nominal) < 0.02
    assert abs(frac - expected_mask_fraction(0.2, 3, mode)) < 0.01


def test_masking_is_deterministic_and_spans_are_contiguous():
    a = span_mask(torch.tensor([30, 20]), 30, 0.2, 3, generator=torch.Generator().manual_seed(5))
    b = span_mask(torch.tensor([30, 20]), 30, 0.2, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.any()
    for row in a:  # every run of masked frames is >= span long (spans may merge)
        runs = "".join("1" if v else "0" for v in row.tolist()).split("0")
        assert all(len(r) >= 3 for r in runs if r)


def test_mask_application_zeroes_video_frames_and_audio_samples():
    mask = torch.tensor([[False, True, False]])
    v = mask_video(torch.ones(1, 3, 4, 4), mask)
    a = mask_audio(torch.ones(1, 3 * 640), mask)
    assert v[0, 1].abs().sum() == 0 and v[0, 0].min() == 1 and v[0, 2].min() == 1
    assert a[0, 640:1280].abs().sum() == 0 and a[0, :640].min() == 1 and a[0, 1280:].min() == 1


def test_momentum_schedule_is_exact():
    K = 1000
    assert cosine_momentum(0, K) == pytest.approx(0.999, abs=1e-15)
    assert cosine_momentum(K, K) == pytest.approx(1.0, abs=1e-15)
    for k in (1, 250, 500, 999):
        expected = 1 - 0.5 * (1 - 0.999) * (1 + math.cos(math.pi * k / K))
        assert cosine_momentum(k, K) == pytest.approx(expected, abs=1e-15)
    obj = tiny()
    assert obj.on_step_end(500, K)["momentum"] == pytest.approx(0.9995, abs=1e-12)


def test_teacher_gets_no_gradients_and_moves_only_by_ema():
    obj = tiny().train()
    groups = obj.param_groups()
    assert [g["name"] for g in groups] == ["video", "audio"]
    assert groups[0]["lr"] == 3e-3 and groups[0]["weight_decay"] == 0.04 and groups[0]["betas"] == (0.9, 0.999)
    opts = [torch.optim.AdamW(g["params"], lr=g["lr"], betas=g["betas"], weight_decay=g["weight_decay"])
            for g in groups]
    teachers = [obj.model_video.target_encoder, obj.model_audio.target_encoder]
    students = [obj.model_video.encoder, obj.model_audio.encoder]
    trainable = {id(p) for g in groups for p in g["params"]}
    assert not any(id(p) in trainable for t in teachers for p in t.parameters())
    before = [[p.clone() for p in t.parameters()] for t in teachers]
    out = obj(structured_batch(B=2, T=12))
    out["loss"].backward()
    for o in opts:
        o.step()
    for t, old in zip(teachers, before):
        for p, q in zip(t.parameters(), old):
            assert p.grad is None and not p.requires_grad
            assert torch.equal(p, q), "optimiser step must not touch the teacher"
    m = obj.on_step_end(3, 10)["momentum"]
    for t, s, old in zip(teachers, students, before):
        for p, ps, q in zip(t.parameters(), s.parameters(), old):
            assert torch.allclose(p, m * q + (1 - m) * ps.detach(), atol=1e-6)


def test_outputs_are_25hz_for_both_modalities():
    obj = tiny().eval()
    b = structured_batch(B=2, T=9)
    enc = obj.encoders()
    assert enc["video"](b["video"]).shape == (2, 9, 64)
    assert enc["audio"](b["audio"]).shape == (2, 9, 64)
    out = obj(b)
    assert {k for k in out if not k.startswith("health/")} == {
        "loss", "loss_video", "loss_audio", "loss_a2a", "loss_a2v", "loss_v2a", "mask_fraction",
        "mask_fraction_video", "mask_fraction_audio"}
    assert {k.split("/")[1] for k in out if k.startswith("health/")} == {
        "teacher_video", "teacher_audio", "student_video", "student_audio"}
    assert out["loss"].requires_grad and all(not v.requires_grad for k, v in out.items() if k != "loss")
    assert torch.allclose(out["loss"], out["loss_video"] + out["loss_audio"])


def test_short_run_learns_every_term_without_collapse():
    obj = tiny(lr=2e-3).train()
    batch = structured_batch()
    opts = [torch.optim.AdamW(g["params"], lr=g["lr"], betas=g["betas"], weight_decay=g["weight_decay"])
            for g in obj.param_groups()]
    steps, hist = 40, []
    for step in range(steps):
        out = obj(batch)
        for o in opts:
            o.zero_grad(set_to_none=True)
        out["loss"].backward()
        for g in obj.param_groups():
            torch.nn.utils.clip_grad_norm_(g["params"], g["grad_clip"])
        for o in opts:
            o.step()
        obj.on_step_end(step, steps)
        hist.append({k: float(v.detach()) for k, v in out.items()})
    for term in ("loss_v2a", "loss_a2a", "loss_a2v"):
        first = sum(h[term] for h in hist[:3]) / 3
        last = sum(h[term] for h in hist[-3:]) / 3
        # official masks (per modality, cut to equal counts): a2a starts easier (scattered masked frames), so
        # every term must gain >= 0.25 and end with cosine > 0.7 (measured: -0.47 -> -0.74 for a2a, 40 steps)
        assert last < first - 0.25 and last < -0.7, f"{term}: {first:.3f} -> {last:.3f}"
    assert 0.05 < sum(h["mask_fraction"] for h in hist) / steps < 0.4
    obj.eval()
    with torch.no_grad():
        for name, enc in obj.encoders().items():
            feats = enc(batch[name]).flatten(0, 1)  # (frames, adim)
            assert feats.std(0).mean() > 0.2, f"{name} student collapsed"


def test_teacher_runs_without_dropout_but_with_batch_statistics():
    obj = tiny().train()
    b = structured_batch(B=2, T=6)
    branch = obj.model_audio
    z1, z2 = branch.targets(b["audio"], None), branch.targets(b["audio"], None)
    assert torch.equal(z1, z2), "teacher must be deterministic (dropout off)"
    bn = branch.target_encoder.encoders[0].norm_ff
    assert bn.training and not branch.target_encoder.encoders[0].dropout.training
    assert int(bn.num_batches_tracked) == 2, "teacher BatchNorm runs in train mode"
    assert not torch.equal(branch.encoder(b["audio"]), branch.encoder(b["audio"])), "student keeps dropout"


def test_masking_stream_resumes_from_state_dict():
    a, b = tiny(), tiny()
    a.make_mask(torch.tensor([20]), 20)  # advance a's stream
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.make_mask(torch.tensor([50]), 50), b.make_mask(torch.tensor([50]), 50))


def test_params_defaults_are_the_paper_recipe():
    p = RavenParams()
    assert p.dims() == (12, 512, 8, 2048) and p.encoder_config()["drop_path"] == 0.0
    assert (p.effective_lr(), p.weight_decay, p.betas, p.min_lr, p.grad_clip) == (3e-3, 0.04, (0.9, 0.999), 1e-5, 3.0)
    assert p.effective_warmup_fraction() == pytest.approx(40 / 150)
    assert (p.mask_prob, p.mask_span, p.mask_mode, p.momentum_start, p.momentum_end) == (0.2, 3, "fairseq", 0.999, 1.0)
    large = RavenParams(size="large")
    assert large.dims() == (24, 1024, 16, 4096) and large.effective_lr() == 2e-3
    assert large.encoder_config()["drop_path"] == 0.1 and large.effective_warmup_fraction() == pytest.approx(0.2)
    with pytest.raises(ValueError):
        RavenParams(size="custom", layers=2)  # incomplete custom dims
    with pytest.raises(ValueError):
        RavenParams(layers=2)  # dims only with size=custom
    with pytest.raises(ValueError):
        RavenParams(**{**TINY, "heads": 5})  # 5 does not divide 64
    with pytest.raises(ValueError):
        RavenParams(bogus=1)
