"""Noise mixing: SNR on active speech, determinism, babble from other speakers only."""

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # shared 2-core machine: intra-op threads only add contention for tiny models

from avssl.tasks import noise as N

SR = 16000


def fake_speech(seed, n=SR * 2, f0=150.0):
    """Voiced bursts separated by silence (so the active-power definition matters)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    env = np.zeros(n)
    for start in (0.15, 0.45, 0.7):  # fractions of the clip
        a, b = int(start * n), int((start + 0.18) * n)
        env[a:b] = np.hanning(b - a)
    x = env * (np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(2 * np.pi * 3 * f0 * t) + 0.05 * rng.standard_normal(n))
    return (0.3 * x).astype(np.float32)


def measured_snr(clean, noisy):
    """Independent measurement: speech power over samples where the clean envelope is non-negligible."""
    clean = clean.astype(np.float64)
    noise = noisy.astype(np.float64) - clean
    frames = clean[: len(clean) // 400 * 400].reshape(-1, 400)
    e = (frames**2).mean(1)
    active = e > e.max() * 1e-4
    ps = e[active].mean()
    return 10 * np.log10(ps / (noise**2).mean())


@pytest.fixture
def pool():
    spk = [f"s{i % 4}" for i in range(12)]
    wav = [fake_speech(100 + i, n=SR + 997 * i, f0=100 + 15 * i) for i in range(12)]
    return N.BabblePool(spk, wav)


@pytest.mark.parametrize("kind", ["white", "babble"])
@pytest.mark.parametrize("snr", [20, 10, 5, 0, -5])
def test_measured_snr_matches_target(pool, kind, snr):
    clean = fake_speech(1)
    noisy = N.add_noise(clean, kind, snr, clip_id="c1", seed=0, speaker="s0", pool=pool)
    assert noisy.shape == clean.shape and noisy.dtype == np.float32
    assert abs(measured_snr(clean, noisy) - snr) < 0.5


def test_clean_is_identity_and_deterministic(pool):
    clean = fake_speech(2)
    assert np.array_equal(N.add_noise(clean, "babble", "clean", clip_id="x", seed=0, speaker="s0", pool=pool), clean)
    a = N.add_noise(clean, "babble", 0, clip_id="x", seed=3, speaker="s0", pool=pool)
    b = N.add_noise(clean, "babble", 0, clip_id="x", seed=3, speaker="s0", pool=pool)
    c = N.add_noise(clean, "babble", 0, clip_id="y", seed=3, speaker="s0", pool=pool)
    d = N.add_noise(clean, "babble", 0, clip_id="x", seed=4, speaker="s0", pool=pool)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, d)


def test_babble_uses_other_speakers_only(pool):
    for s in ["s0", "s1", "s3"]:
        for seed in range(20):
            _, used = pool.babble(SR, s, N.derive_rng(seed, s), k=6)
            assert len(used) == 6
            assert all(pool.speakers[i] != s for i in used)
    with pytest.raises(ValueError):
        N.BabblePool(["a", "a"], [fake_speech(0), fake_speech(1)]).babble(SR, "a", N.derive_rng(0))


def test_babble_pool_from_processed():
    class DS:
        index = [{"clip_id": "a", "speaker": "p1"}, {"clip_id": "b", "speaker": "p2"}]

        def __getitem__(self, cid):
            return {"audio": fake_speech(ord(cid), n=SR)}

    p = N.BabblePool.from_processed(DS(), ["b", "a"])
    assert p.speakers == ["p1", "p2"] and len(p.waveforms[0]) == SR


def test_training_augment_only_touches_valid_samples(pool):
    audio = torch.from_numpy(np.stack([fake_speech(5), fake_speech(6)]))
    n_valid = torch.tensor([SR * 2, SR])
    aug = N.NoiseAugment(pool, snrs=[0], p=1.0, seed=0)
    out = aug(audio, n_valid, speakers=["s0", "s1"])
    assert not torch.allclose(out[0], audio[0])
    assert torch.equal(out[1, SR:], audio[1, SR:])
    assert abs(measured_snr(audio[1, :SR].numpy(), out[1, :SR].numpy())) < 0.5
