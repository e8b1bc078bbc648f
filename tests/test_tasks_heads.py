"""Emotion / affect / word objectives, the task registry and the finetune/evaluate params."""

import pytest
import torch
from torch import nn

torch.set_num_threads(1)  # shared 2-core machine: intra-op threads only add contention for tiny models

from avssl import tasks
from avssl.tasks.affect import AffectObjective, ccc_per_dim
from avssl.tasks.classification import ClassificationObjective
from avssl.tasks.gru_head import BiGRUHead, masked_mean
from avssl.tasks.metrics import ccc


class VideoEnc(nn.Module):
    """(B, T, 88, 88) -> (B, T, D) with a BatchNorm, to check that frozen encoders keep their statistics."""

    def __init__(self, dim=8):
        super().__init__()
        self.pool = nn.AvgPool2d(11)
        self.proj = nn.Linear(64, dim)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x, padding_mask=None):
        B, T = x.shape[:2]
        h = self.proj(self.pool(x.reshape(B * T, 1, 88, 88)).flatten(1))
        return self.bn(h).view(B, T, -1)


class AudioEnc(nn.Module):
    """(B, N) -> (B, N/640, D)."""

    def __init__(self, dim=8):
        super().__init__()
        self.proj = nn.Linear(640, dim)

    def forward(self, x, padding_mask=None):
        return self.proj(x.view(x.shape[0], -1, 640))


def test_masked_mean_and_gru_ignore_padding():
    x = torch.randn(2, 5, 3)
    pm = torch.tensor([[False] * 5, [False, False, True, True, True]])
    m = masked_mean(x, pm)
    assert torch.allclose(m[1], x[1, :2].mean(0)) and torch.allclose(m[0], x[0].mean(0))
    head = BiGRUHead(3, hidden=4).eval()
    y1 = head(x, pm)
    x2 = x.clone()
    x2[1, 2:] = 100.0  # garbage in padding must not change valid outputs
    y2 = head(x2, pm)
    assert y1.shape == (2, 5, 8) and torch.allclose(y1[1, :2], y2[1, :2], atol=1e-6)
    assert torch.allclose(y1[1, :2], head(x[1:, :2])[0], atol=1e-6)  # same as the unpadded sequence


def test_emotion_classifier_learns_and_frozen_encoder_is_untouched():
    torch.manual_seed(0)
    enc = VideoEnc()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    obj = ClassificationObjective(enc, "video", 8, num_classes=3, hidden=16, freeze_encoder=True, lr_head=1e-2)
    T = 6
    label = torch.tensor([0, 1, 2, 0, 1, 2])
    video = torch.randn(6, T, 88, 88) * 0.1 + label[:, None, None, None].float()
    batch = {"video": video, "label": label, "lengths": torch.tensor([6, 5, 4, 6, 6, 3]),
             "padding_mask": torch.arange(T)[None] >= torch.tensor([6, 5, 4, 6, 6, 3])[:, None]}
    (spec,) = obj.param_groups()
    assert [g["name"] for g in spec["params"]] == ["head"]
    opt = torch.optim.Adam(spec["params"], lr=spec["lr"])
    obj.train()
    assert not enc.training
    for _ in range(40):
        out = obj(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert out["acc"].item() == 1.0
    assert (obj.predict(batch)["pred"] == label).all()
    for k, v in enc.state_dict().items():
        assert torch.equal(v, before[k]), k  # neither weights nor BN running stats moved
    assert obj.encoders() == {"video": enc}


def test_finetuned_classifier_has_encoder_group():
    obj = ClassificationObjective(AudioEnc(), "audio", 8, 5, lr_head=1e-3, lr_encoder=1e-4)
    (spec,) = obj.param_groups()
    lrs = {g["name"]: g["lr"] for g in spec["params"]}
    assert lrs == {"head": 1e-3, "encoder": 1e-4}
    batch = {"audio": torch.randn(2, 640 * 4), "label": torch.tensor([1, 4])}
    out = obj(batch)
    out["loss"].backward()
    assert obj.encoder.proj.weight.grad is not None


def test_ccc_loss_matches_metric_and_respects_padding():
    torch.manual_seed(0)
    pred, tgt = torch.randn(3, 7, 2), torch.randn(3, 7, 2)
    valid = torch.ones(3, 7, dtype=torch.bool)
    valid[1, 4:] = False
    c = ccc_per_dim(pred, tgt, valid)
    for d in range(2):
        assert c[d].item() == pytest.approx(ccc(pred[..., d].numpy(), tgt[..., d].numpy(), valid.numpy()), abs=1e-5)


def test_affect_regression_improves_ccc():
    torch.manual_seed(0)
    T = 10
    audio = torch.randn(4, T * 640)
    frame_energy = audio.view(4, T, 640)[..., :8].mean(-1)  # a learnable per-frame target
    affect = torch.stack([frame_energy, -frame_energy], -1)
    lengths = torch.tensor([10, 8, 10, 6])
    pm = torch.arange(T)[None] >= lengths[:, None]
    affect[pm] = 99.0  # padding garbage must be ignored
    obj = AffectObjective(AudioEnc(16), "audio", 16, hidden=16, lr_head=1e-2, lr_encoder=1e-2)
    (spec,) = obj.param_groups()
    opt = torch.optim.Adam(spec["params"], lr=1e-2)
    batch = {"audio": audio, "affect": affect, "padding_mask": pm, "lengths": lengths}
    first = obj(batch)
    for _ in range(60):
        out = obj(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert out["loss"].item() < first["loss"].item() and out["ccc_arousal"].item() > 0.8
    assert obj.predict(batch)["pred"].shape == (4, T, 2)


# Small heads and short schedules (seconds on one CPU core).
TINY: dict = {
    "finetune": {
        "encoder_modes": ["frozen"],
        "emotion": {"epochs": 3, "hidden": 32, "lr_head": 1e-3, "batch_size": 8},
        "affect": {"epochs": 3, "hidden": 32, "lr_head": 1e-3, "batch_size": 8},
        "words": {"epochs": 3, "hidden": 32, "lr_head": 1e-3, "batch_size": 8},
        "vsr": {"epochs": 3, "warmup_epochs": 1, "vocab_size": 64, "decoder_dim": 64, "decoder_heads": 2,
                "decoder_units": 128, "decoder_layers": 2, "average_last": 2, "max_frames": 400},
        "asr": {"epochs": 3, "warmup_epochs": 1, "vocab_size": 64, "decoder_dim": 64, "decoder_heads": 2,
                "decoder_units": 128, "decoder_layers": 2, "average_last": 2, "max_frames": 400},
    },
    "evaluate": {"snrs": ["clean", 10, 0], "noise_types": ["babble"], "beam_size": 4},
}

def test_registry_and_builders():
    from avssl.config.finetune import EvaluateParams, FinetuneParams
    from avssl.tasks.tokenizer import Tokenizer

    assert set(tasks.TASKS) == {"emotion", "affect", "words_audio", "words_video", "asr", "vsr"}
    assert tasks.TASKS["words_video"].modality == "video" and tasks.TASKS["asr"].metrics == ("wer", "cer")
    fp = FinetuneParams(**TINY["finetune"])
    assert fp.asr.epochs == 3 and FinetuneParams().asr.epochs == 200 and FinetuneParams().vsr.lr_head == 5e-3
    EvaluateParams(**TINY["evaluate"])
    with pytest.raises(Exception):
        FinetuneParams(label_fractions=[0.0])
    with pytest.raises(Exception):
        FinetuneParams(bogus=1)
    rows = [{"clip_id": "a", "emotion": "sad", "word": "", "text": "x"},
            {"clip_id": "b", "emotion": "happy", "word": "yes", "text": "y"},
            {"clip_id": "c", "emotion": "sad", "word": "no", "text": "z"}]
    assert tasks.class_list(rows, "emotion") == ["happy", "sad"]
    assert [r["clip_id"] for r in tasks.task_rows(rows, "words_audio")] == ["b", "c"]
    obj = tasks.build_objective("words_video", VideoEnc(), 8, fp, num_classes=2, freeze_encoder=True)
    assert isinstance(obj, ClassificationObjective) and obj.modality == "video" and obj.head.out_dim == 64
    assert isinstance(tasks.build_objective("affect", AudioEnc(), 8, fp), AffectObjective)
    tok = Tokenizer.train(["hello world", "good morning world", "hello there"] * 3, vocab_size=20)
    asr = tasks.build_objective("asr", AudioEnc(), 8, fp, tokenizer=tok)
    batch = {"audio": torch.randn(2, 640 * 12), "text": ["hello world", "good morning"]}
    out = asr(batch)
    assert torch.isfinite(out["loss"])
    asr.eval()
    pred = asr.predict(batch, mode="greedy_ctc")
    assert len(pred["text"]) == 2 and all(isinstance(t, str) for t in pred["text"])


def test_noise_augmentation_only_in_training():
    from avssl.config.finetune import FinetuneParams

    fp = FinetuneParams(noise_augmentation={"enabled": True, "probability": 1.0, "noise_types": ["white"]})
    aug = tasks.make_noise_augment(fp, pool=None, seed=0)
    assert tasks.make_noise_augment(FinetuneParams()) is None
    obj = tasks.build_objective("emotion", AudioEnc(), 8, fp, num_classes=2, noise_augment=aug)
    batch = {"audio": torch.sin(torch.arange(640 * 4) / 5.0).repeat(2, 1), "lengths": torch.tensor([4, 2])}
    obj.eval()
    clean = obj.encode(batch)[0]
    assert torch.allclose(clean, obj.encode(batch)[0])
    obj.train()
    noisy = obj.encode(batch)[0]
    assert not torch.allclose(clean, noisy)
    assert torch.allclose(clean[1, 2:], noisy[1, 2:])  # padding untouched
