"""The `nuisance` init: timing and loudness only, the row that shows how far cues without speech content go."""

from __future__ import annotations

import math

import pytest
import torch

from avssl.config import ParamsError, load_params, params_from_dict
from avssl.models import registry
from avssl.models.nuisance import FEATURES
from avssl.stages import finetune_jobs

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
HOP = 640


def _clip(lead_frames: int, speech_frames: int, tail_frames: int, amplitude: float, freq: float = 220.0):
    """Silence (a faint noise floor), a tone burst, silence: the burst is the 'speech'."""
    g = torch.Generator().manual_seed(0)
    n = (lead_frames + speech_frames + tail_frames) * HOP
    audio = 1e-4 * torch.randn(n, generator=g)
    t = torch.arange(speech_frames * HOP) / 16000
    audio[lead_frames * HOP : (lead_frames + speech_frames) * HOP] += amplitude * torch.sin(2 * math.pi * freq * t)
    return audio


def test_features_are_timing_and_loudness_with_no_weights():
    enc = registry.build("nuisance")
    assert sum(p.numel() for p in enc.parameters()) == 0 and enc.output_dim == len(FEATURES) == 6
    feats = enc(_clip(5, 10, 5, 0.3).unsqueeze(0))[0]
    voiced = feats[:, FEATURES.index("voiced")]
    assert voiced.tolist() == [0.0] * 5 + [1.0] * 10 + [0.0] * 5
    since, until = feats[:, FEATURES.index("since_onset_s")], feats[:, FEATURES.index("until_offset_s")]
    assert since[5].item() == 0.0 and until[14].item() == 0.0
    assert since[0].item() == pytest.approx(-5 / 25) and until[19].item() == pytest.approx(-5 / 25)
    assert feats[:, FEATURES.index("position")][[0, -1]].tolist() == [0.0, 1.0]
    assert feats[0, FEATURES.index("clip_length")].item() == pytest.approx(0.2)


def test_same_words_at_another_pitch_look_the_same_but_louder_speech_does_not():
    enc = registry.build("nuisance")
    base = enc(_clip(5, 10, 5, 0.3, freq=220).unsqueeze(0))
    other_pitch = enc(_clip(5, 10, 5, 0.3, freq=660).unsqueeze(0))
    louder = enc(_clip(5, 10, 5, 0.9, freq=220).unsqueeze(0))
    assert torch.allclose(base, other_pitch, atol=0.02)  # nothing spectral (frame RMS of a tone: +-0.5 %)
    rms = FEATURES.index("log_rms")
    assert (louder[0, 5:15, rms] - base[0, 5:15, rms]).mean().item() == pytest.approx(math.log10(3), abs=0.01)


def test_padding_changes_nothing_and_stays_zero():
    enc = registry.build("nuisance")
    short, long = _clip(3, 6, 3, 0.3), _clip(5, 10, 5, 0.5)
    batch = torch.zeros(2, long.numel())
    batch[0, : short.numel()], batch[1] = short, long
    mask = torch.zeros(2, long.numel() // HOP, dtype=torch.bool)
    mask[0, short.numel() // HOP :] = True
    together = enc(batch, mask)
    alone = enc(short.unsqueeze(0))
    assert torch.equal(together[0, : alone.shape[1]], alone[0])
    assert together[0, alone.shape[1] :].abs().sum() == 0


def test_grid_runs_nuisance_frozen_on_utterance_tasks_only():
    params = load_params([REPO / "params.yaml"]).model_dump(mode="json")
    jobs = [j for j in finetune_jobs(params) if j["init"] == "nuisance"]
    assert {j["task"] for j in jobs} == {"emotion", "affect", "words_audio"}
    assert {j["mode"] for j in jobs} == {"frozen"}


def test_a_finetuned_nuisance_job_is_rejected_naming_the_job():
    with pytest.raises(ParamsError) as err:
        params_from_dict({"finetune": {"jobs": [{"task": "emotion", "init": "nuisance", "mode": "finetuned"}]}},
                         source="my.yaml")  # fmt: skip
    assert "my.yaml" in str(err.value) and "emotion/nuisance" in str(err.value) and "frozen" in str(err.value)
