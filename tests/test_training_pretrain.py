"""The `pretrain` stage end to end on an in-memory dataset: export, metrics.json, curve, artifacts."""

import json
from types import SimpleNamespace

import pytest

import avssl.data.processed as processed
import avssl.training.pretrain as pretrain
from avssl.config.train import TrainParams
from test_training_fakes import FakeProcessedDataset, ToyObjective, tiny_cfg


class ArtifactRun:
    def __init__(self):
        self.artifacts, self.metrics = [], []

    def log_metrics(self, metrics, step=None):
        self.metrics.append(metrics)

    def log_artifact(self, path, artifact_path=None):
        self.artifacts.append(str(path))


def _toy(params, method):
    obj = ToyObjective()
    for enc in obj.encoders().values():
        enc.arch, enc.config = "toy", {}
    return obj


@pytest.fixture
def fake_source(monkeypatch):
    monkeypatch.setattr(processed, "ProcessedDataset", lambda path: FakeProcessedDataset(n=24, seed=1))
    monkeypatch.setattr(pretrain, "build_objective", _toy)


def _params(**train):
    return SimpleNamespace(study=SimpleNamespace(seed=0), train=tiny_cfg(**train))


def test_run_pretrain_writes_outputs(fake_source, tmp_path):
    run = ArtifactRun()
    metrics = pretrain.run_pretrain(_params(), "raven", tmp_path / "proc", tmp_path / "out", run, progress=False)
    out = tmp_path / "out"
    for name in ("model.safetensors", "config.json", "metrics.json", "training_curves.png", "history.json"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()  # keep_checkpoint = False
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["steps"] == 12 and saved["method"] == "raven" and "val/loss" in saved and saved["frames_per_s"] > 0
    assert metrics["train/loss"] == saved["train/loss"]
    config = json.loads((out / "config.json").read_text())
    assert set(config["encoders"]) == {"video", "audio"} and config["method"] == "raven"
    assert any(a.endswith("metrics.json") for a in run.artifacts) and any(a.endswith(".png") for a in run.artifacts)


def test_run_pretrain_keep_checkpoint_and_unknown_method(fake_source, tmp_path):
    pretrain.run_pretrain(_params(keep_checkpoint=True, steps=2), "shukla_audio", tmp_path, tmp_path / "o", progress=False)
    assert (tmp_path / "o" / "checkpoints" / "last.pt").is_file()
    with pytest.raises(ValueError, match="unknown pre-training method"):
        pretrain.run_pretrain(_params(), "simclr", tmp_path, tmp_path / "x", progress=False)


def test_raven_steps_override_only_raven(fake_source, tmp_path):
    """`raven.steps` gives RAVEn its own budget (default preset: 600) without touching the Shukla methods."""
    params = _params(steps=3)
    params.raven = SimpleNamespace(steps=5)
    assert pretrain.run_pretrain(params, "raven", tmp_path, tmp_path / "r", progress=False)["steps"] == 5
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["steps"] == 5
    assert pretrain.run_pretrain(params, "shukla_audio", tmp_path, tmp_path / "s", progress=False)["steps"] == 3


def test_train_params_default_when_section_missing():
    assert isinstance(pretrain.train_params(SimpleNamespace()), TrainParams)
