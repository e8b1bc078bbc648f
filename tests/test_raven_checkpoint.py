"""Checkpoints: our safetensors+config.json directories, official .pth files, feature extraction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avssl.config.raven import RavenParams
from avssl.models.checkpoint import export_official, save_encoders
from avssl.models.encode import encode_dataset
from avssl.models.load import load_encoder
from avssl.models.raven import raven_audio, raven_video

from conftest import RAVEN_TINY as TINY

CFG = RavenParams(**TINY).encoder_config()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def encoders():
    torch.manual_seed(0)
    enc = {"video": raven_video(**CFG), "audio": raven_audio(**CFG)}
    for e in enc.values():  # non-trivial BatchNorm statistics
        e.train()
    enc["video"](torch.randn(2, 4, 88, 88))
    enc["audio"](torch.randn(2, 4 * 640))
    return {k: e.eval() for k, e in enc.items()}


def same_outputs(a, b, x):
    with torch.no_grad():
        return torch.allclose(a(x), b(x), atol=1e-6)


def test_save_and_load_our_checkpoint(tmp_path, encoders):
    out = save_encoders(tmp_path / "ckpt", encoders, {"method": "raven", "step": 7})
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "raven" and config["step"] == 7
    assert config["encoders"]["video"] == {"arch": "raven_video", "config": CFG}
    from safetensors.torch import load_file

    keys = load_file(str(out / "model.safetensors"))
    assert "video.frontend.frontend3D.0.weight" in keys and "audio.frontend.trunk.conv1.weight" in keys
    with pytest.raises(ValueError, match="audio, video"):
        load_encoder(out)
    v = load_encoder(out, modality="video")
    a = load_encoder(out / "model.safetensors", modality="audio")
    assert not v.training and not a.training
    assert same_outputs(v, encoders["video"], torch.randn(1, 5, 88, 88))
    assert same_outputs(a, encoders["audio"], torch.randn(1, 5 * 640))
    with pytest.raises(KeyError):
        load_encoder(out, modality="face")


def test_single_encoder_checkpoint_needs_no_modality(tmp_path, encoders):
    out = save_encoders(tmp_path / "a", {"audio": encoders["audio"]}, {})
    assert load_encoder(out).modality == "audio"


@pytest.mark.parametrize("prefix", [True, False])
@pytest.mark.parametrize("modality", ["video", "audio"])
def test_official_pth_round_trip(tmp_path, encoders, modality, prefix):
    sd = export_official(encoders[modality], prefix=prefix)
    if prefix:  # a whole fine-tuned model: CTC head and decoder next to the encoder
        sd["ctc.ctc_lo.weight"] = torch.randn(11, CFG["adim"])
        sd["decoder.after_norm.weight"] = torch.randn(CFG["adim"])
    path = tmp_path / f"{modality}.pth"
    torch.save(sd, path)
    enc = load_encoder(path)
    assert enc.modality == modality and enc.config["adim"] == CFG["adim"] and enc.config["layers"] == CFG["layers"]
    assert enc.config["frontend_width"] == CFG["frontend_width"] and enc.config["heads"] == CFG["heads"]
    x = torch.randn(1, 3, 88, 88) if modality == "video" else torch.randn(1, 3 * 640)
    assert same_outputs(enc, encoders[modality], x)


def test_pretraining_checkpoint_picks_student_by_modality(tmp_path, encoders):
    sd = {}
    for mod, enc in encoders.items():
        for k, v in export_official(enc).items():
            sd[f"model.model_{mod}.backbone.encoder.{k}"] = v
            sd[f"model.model_{mod}.target_backbone.{k}"] = v
    path = tmp_path / "pretrain.pth"
    torch.save({"state_dict": sd}, path)
    with pytest.raises(ValueError, match="several encoders"):
        load_encoder(path)
    assert load_encoder(path, modality="audio").modality == "audio"


class FakeDataset:
    """Stands in for avssl.data.processed.ProcessedDataset (ids() and [clip_id])."""

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.items = {}
        for i, T in enumerate([5, 8, 3]):
            self.items[f"spk{i}/clip{i}"] = {
                "video": torch.randint(0, 256, (T, 96, 96), generator=g, dtype=torch.uint8).numpy(),
                "audio": (0.1 * torch.randn(T * 640, generator=g)).numpy(),
                "meta": {},
            }

    def ids(self, split=None):
        return list(self.items)

    def __getitem__(self, cid):
        return self.items[cid]


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_encode_dataset(tmp_path, encoders, suffix):
    ckpt = save_encoders(tmp_path / "ckpt", encoders, {})
    ds = FakeDataset()
    out = encode_dataset(ckpt, ds, tmp_path / f"feats{suffix}", "video", batch_size=2)
    if suffix == ".npz":
        feats = dict(np.load(out))
    else:
        from safetensors.numpy import load_file

        feats = load_file(str(out))
    assert set(feats) == set(ds.ids())
    enc = load_encoder(ckpt, modality="video")
    from avssl.models.encode import video_to_input

    for cid, item in ds.items.items():
        assert feats[cid].shape == (item["video"].shape[0], CFG["adim"]) and feats[cid].dtype == np.float32
        with torch.no_grad():
            single = enc(video_to_input(item["video"])[None])[0].numpy()
        np.testing.assert_allclose(feats[cid], single, atol=1e-4)  # padding in a batch changes nothing


def test_encode_dataset_audio(tmp_path, encoders):
    ckpt = save_encoders(tmp_path / "ckpt", encoders, {})
    ds = FakeDataset()
    feats = dict(np.load(encode_dataset(ckpt, ds, tmp_path / "a.npz", "audio", batch_size=3)))
    enc = load_encoder(ckpt, modality="audio")
    for cid, item in ds.items.items():
        with torch.no_grad():
            single = enc(torch.as_tensor(item["audio"])[None])[0].numpy()
        np.testing.assert_allclose(feats[cid], single, atol=1e-4)


def test_cli_encode_infers_the_modality_of_a_one_encoder_checkpoint(tmp_path, encoders, monkeypatch, capsys):
    import avssl.data.processed as processed
    from avssl.cli import main

    monkeypatch.setattr(processed, "ProcessedDataset", lambda path: FakeDataset())
    one = save_encoders(tmp_path / "a", {"audio": encoders["audio"]}, {})
    assert main(["encode", "--checkpoint", str(one), "--input", str(tmp_path), "--output", str(tmp_path / "f.npz")]) == 0
    feats = dict(np.load(tmp_path / "f.npz"))
    expected = dict(np.load(encode_dataset(one, FakeDataset(), tmp_path / "e.npz", "audio")))
    assert feats.keys() == expected.keys() and all(np.array_equal(feats[k], expected[k]) for k in feats)
    both = save_encoders(tmp_path / "b", encoders, {})
    argv = ["encode", "--checkpoint", str(both), "--input", str(tmp_path), "--output", str(tmp_path / "g.npz")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds 2 encoders (audio, video)" in err and "--modality" in err and "Traceback" not in err
    assert not (tmp_path / "g.npz").exists()
    assert main(argv + ["--modality", "video"]) == 0
