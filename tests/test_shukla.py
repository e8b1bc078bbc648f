"""Shukla objectives: contract, padding, multi-task sum, and that short runs learn something real."""

import math
import time

import pytest
import torch

from avssl.config.shukla import ShuklaParams
from avssl.training.shukla import METHODS, build_objective

FACE = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Tiny sizes for CPU tests (window 40 ms: each frame's window is exactly its own audio).
TINY = dict(
    window_s=0.04, cnn_channels=4, code_dim=32, gru_hidden=32, identity_channels=8, identity_layers=2,
    identity_code_dim=16, attribute_head_hidden=32, face_size=FACE, lr=3e-3,
)


def synthetic_batch(n_clips: int, n_frames: int, seed: int, pad_last: int = 0) -> dict:
    """Talking 'faces' whose mouth brightness follows the loudness of a tone in the audio.

    Each clip: a random smooth face texture, a voiced tone (random F0) whose amplitude per 40 ms frame is
    a random envelope value, and a mouth rectangle in the lower half whose brightness is that value. A
    model that reads loudness from audio can animate the mouth; copying the still frame cannot.
    """
    g = torch.Generator().manual_seed(seed)
    envelope = 0.1 + 0.9 * torch.rand(n_clips, n_frames, generator=g)
    f0 = 120 + 150 * torch.rand(n_clips, 1, generator=g)
    t = torch.arange(n_frames * 640) / 16000
    tone = torch.sin(2 * math.pi * f0 * t) + 0.5 * torch.sin(2 * math.pi * 2 * f0 * t)
    audio = tone * envelope.repeat_interleave(640, dim=1) + 0.01 * torch.randn(n_clips, n_frames * 640, generator=g)
    texture = torch.nn.functional.interpolate(torch.rand(n_clips, 1, 4, 4, generator=g), size=FACE, mode="bilinear")
    face = (texture - 0.5).unsqueeze(1).repeat(1, n_frames, 1, 1, 1)
    face[:, :, 0, 10:15, 2:14] = (-0.9 + 1.8 * envelope)[:, :, None, None]
    padding_mask = torch.zeros(n_clips, n_frames, dtype=torch.bool)
    if pad_last:
        padding_mask[-1, n_frames - pad_last :] = True
    return {
        "audio": audio, "face": face.clamp(-1, 1), "padding_mask": padding_mask,
        "lengths": (~padding_mask).sum(1), "clip_id": [f"c{i}" for i in range(n_clips)],
    }


def train(objective, batches, steps: int) -> list[dict]:
    (group,) = objective.param_groups()
    optimizer = torch.optim.Adam(group["params"], lr=group["lr"], betas=group["betas"])
    history = []
    for step in range(steps):
        out = objective(batches[step % len(batches)])
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        assert objective.on_step_end(step, steps) == {}
        history.append({k: float(v.detach()) for k, v in out.items()})
    return history


@pytest.mark.parametrize("method", METHODS)
def test_contract_and_shapes(method):
    objective = build_objective(ShuklaParams(**TINY), method)
    out = objective(synthetic_batch(3, 6, seed=0, pad_last=2))
    assert out["loss"].requires_grad and out["loss"].dim() == 0
    assert all(not v.requires_grad for k, v in out.items() if k != "loss")
    assert ("loss_visual" in out) == (method != "shukla_audio") and ("loss_audio" in out) == (method != "shukla_visual")
    (group,) = objective.param_groups()
    assert group["lr"] == TINY["lr"] and len(group["params"]) == len(list(objective.parameters()))
    encoder = objective.encoders()["audio"]
    assert encoder.arch == "shukla_audio" and encoder(torch.randn(2, 6 * 640)).shape == (2, 6, 32)


def test_deterministic_given_seed():
    params = ShuklaParams(**TINY)
    a, b = build_objective(params, "shukla_multitask", seed=3), build_objective(params, "shukla_multitask", seed=3)
    c = build_objective(params, "shukla_multitask", seed=4)
    batch = synthetic_batch(3, 6, seed=1)
    assert torch.equal(a(batch)["loss"].detach(), b(batch)["loss"].detach())
    assert not torch.equal(c(batch)["loss"].detach(), a(batch)["loss"].detach())


def test_padding_is_excluded_from_losses():
    params = ShuklaParams(**TINY)
    clean = synthetic_batch(3, 8, seed=2, pad_last=3)
    clean["audio"][-1, 5 * 640 :] = 0
    clean["face"][-1, 5:] = 0
    garbage = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in clean.items()}
    garbage["audio"][-1, 5 * 640 :] = 10 * torch.randn(3 * 640)
    garbage["face"][-1, 5:] = torch.rand(3, 1, FACE, FACE) * 2 - 1
    for method in METHODS:  # training mode: BatchNorm and target statistics must not see padding either
        out_clean = build_objective(params, method, seed=0)(clean)
        out_garbage = build_objective(params, method, seed=0)(garbage)
        for key in out_clean:
            assert torch.allclose(out_clean[key], out_garbage[key], atol=1e-6), (method, key)


def test_multitask_loss_is_visual_plus_lambda_audio():
    objective = build_objective(ShuklaParams(**{**TINY, "audio_lambda": 0.3}), "shukla_multitask")
    out = objective(synthetic_batch(3, 6, seed=3, pad_last=1))
    assert torch.allclose(out["loss"], out["loss_visual"] + 0.3 * out["loss_audio"])


def test_identity_frame_is_a_real_frame_and_reproducible():
    objective = build_objective(ShuklaParams(**TINY), "shukla_visual", seed=5)
    lengths = torch.tensor([1, 3, 8, 8])
    draws = torch.stack([objective.identity_index(lengths) for _ in range(50)])
    assert (draws < lengths).all() and len(set(draws[:, 2].tolist())) > 3
    again = build_objective(ShuklaParams(**TINY), "shukla_visual", seed=5)
    assert torch.equal(torch.stack([again.identity_index(lengths) for _ in range(50)]), draws)


def test_audio_attribute_loss_decreases():
    torch.manual_seed(0)
    objective = build_objective(ShuklaParams(**TINY), "shukla_audio")
    batches = [synthetic_batch(4, 10, seed=s, pad_last=2) for s in range(4)]
    history = train(objective, batches, 60)
    first = sum(h["loss_audio"] for h in history[:4]) / 4
    last = sum(h["loss_audio"] for h in history[-4:]) / 4
    assert last < 0.8 * first, (first, last)
    assert last < history[-1]["l1_attribute_mean_baseline"]


def test_visual_pretext_beats_the_still_image_baseline():
    torch.manual_seed(0)
    objective = build_objective(ShuklaParams(**TINY), "shukla_visual")
    batches = [synthetic_batch(8, 10, seed=s) for s in range(8)]
    start = time.perf_counter()
    train(objective, batches, 150)
    elapsed = time.perf_counter() - start
    objective.eval()
    with torch.no_grad():
        held_out = objective(synthetic_batch(16, 10, seed=100))
    print(f"visual 150 steps: {elapsed:.1f}s; held-out mouth L1 {float(held_out['l1_mouth']):.3f} "
          f"vs copy baseline {float(held_out['l1_copy_baseline']):.3f}")
    assert held_out["l1_mouth"] < 0.7 * held_out["l1_copy_baseline"]
    # The gain comes from the audio: the same faces with another clip's audio are animated wrongly.
    swapped = synthetic_batch(16, 10, seed=100)
    swapped["audio"] = swapped["audio"].roll(1, dims=0)
    with torch.no_grad():
        assert objective(swapped)["l1_mouth"] > 1.5 * held_out["l1_mouth"]


def test_face_size_follows_the_preprocess_section():
    from types import SimpleNamespace

    shukla = ShuklaParams(**{**TINY, "face_size": None, "identity_layers": 3})
    params = SimpleNamespace(shukla=shukla, preprocess=SimpleNamespace(face_size=96, face_color=True))
    objective = build_objective(params, "shukla_visual")
    assert (objective.face_size, objective.face_channels) == (96, 3)
    batch = synthetic_batch(2, 3, seed=0)
    batch["face"] = torch.zeros(2, 3, 3, 96, 96)
    assert objective(batch)["l1_mouth"] >= 0
    with pytest.raises(ValueError, match="built for"):
        objective(synthetic_batch(2, 3, seed=0))  # 16 px grayscale faces


def test_runs_under_autocast():
    objective = build_objective(ShuklaParams(**TINY), "shukla_multitask")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = objective(synthetic_batch(2, 4, seed=0, pad_last=1))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and objective.encoder.cnn.net[0].weight.grad is not None
