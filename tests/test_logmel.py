"""The `logmel` init: a weightless log-mel front end as the hand-crafted reference row of the audio tables."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from avssl.config import ParamsError, load_params, params_from_dict
from avssl.models import registry
from avssl.stages import finetune_jobs

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def _tone(freq: float, seconds: float = 0.8, sr: int = 16000) -> torch.Tensor:
    t = torch.arange(int(seconds * sr)) / sr
    return torch.sin(2 * math.pi * freq * t) * (1 + 0.5 * torch.sin(2 * math.pi * 3 * t))


def test_frames_bands_and_per_utterance_normalisation():
    enc = registry.build("logmel", n_mels=40)
    assert list(enc.parameters()) == [], "the reference must have nothing to learn"
    audio = _tone(440.0)[None]
    out = enc(audio)
    assert out.shape == (1, audio.shape[1] // 640, 40)
    assert torch.allclose(out[0].mean(0), torch.zeros(40), atol=1e-4)
    # bands with any variation come out at unit variance (flat bands stay ~0 instead of blowing up)
    std = out[0].std(0, unbiased=False)
    assert ((std - 1).abs() < 1e-3).sum() >= 20 and torch.all(std < 1.001)


def test_padding_changes_nothing_and_stays_zero():
    enc = registry.build("logmel", n_mels=40)
    short, long = _tone(300.0, 0.4), _tone(1200.0, 0.8)
    batch = torch.zeros(2, long.shape[0])
    batch[0, : short.shape[0]], batch[1] = short, long
    n_short = short.shape[0] // 640
    pm = torch.zeros(2, long.shape[0] // 640, dtype=torch.bool)
    pm[0, n_short:] = True
    out = enc(batch, padding_mask=pm)
    alone = enc(short[None])
    assert torch.allclose(out[0, :n_short], alone[0], atol=1e-5)
    assert torch.all(out[0, n_short:] == 0)


def test_frequency_moves_the_energy_to_higher_bands():
    """A front end that feeds ASR must keep where the energy is: a 3 kHz tone peaks in a higher band than 300 Hz."""
    enc = registry.build("logmel", n_mels=40)
    raw = enc.attributes  # the un-normalised log-mel the encoder starts from
    low = raw(_tone(300.0)[None])[0].mean(0).argmax()
    high = raw(_tone(3000.0)[None])[0].mean(0).argmax()
    assert high > low + 10


def test_grid_runs_logmel_frozen_on_audio_tasks_without_pre_training():
    params = load_params([REPO / "params.yaml"]).model_dump(mode="json")
    jobs = [j for j in finetune_jobs(params) if j["init"] == "logmel"]
    assert {j["task"] for j in jobs} == {"emotion", "affect", "words_audio", "asr"}
    assert {j["mode"] for j in jobs} == {"frozen"}
    from avssl.stages import _from_scratch

    assert all(j in _from_scratch(finetune_jobs(params)) for j in jobs), "logmel must not wait for pre-training"


def test_a_finetuned_logmel_job_is_rejected_naming_the_job():
    with pytest.raises(ParamsError) as err:
        params_from_dict({"finetune": {"jobs": [{"task": "asr", "init": "logmel", "mode": "finetuned"}]}},
                         source="my.yaml")  # fmt: skip
    assert "my.yaml" in str(err.value) and "logmel" in str(err.value) and "frozen" in str(err.value)


def test_cli_refuses_to_finetune_logmel(tmp_path):
    res = subprocess.run([sys.executable, "-m", "avssl", "finetune", "--params", str(REPO / "params.yaml"),
                          "--no-track", "--task", "asr", "--init", "logmel", "--mode", "finetuned",
                          "--input", str(tmp_path), "--output", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=REPO)  # fmt: skip
    assert res.returncode == 2 and "--mode frozen" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()
