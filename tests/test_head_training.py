"""How task heads train on encoder features: frozen features standardised per dimension over valid frames (MAE probe
protocol), and the optimiser each task section names."""

import torch
from torch import nn

from avssl.tasks.classification import ClassificationObjective
from avssl.tasks.feature_norm import FrameStandardiser


def test_statistics_ignore_padding_and_padding_stays_zero():
    torch.manual_seed(0)
    feats = torch.randn(3, 7, 4) * torch.tensor([0.1, 1.0, 5.0, 0.01]) + 3.0
    pm = torch.zeros(3, 7, dtype=torch.bool)
    pm[1, 4:] = True
    pm[2, 2:] = True
    feats[pm] = 1e6  # garbage in padded frames must not leak into the statistics
    out = FrameStandardiser(4).train()(feats, pm)
    x = feats[~pm]
    expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)  # BatchNorm's eps
    assert torch.allclose(out[~pm], expected, atol=1e-4)
    assert (out[pm] == 0).all()


def test_only_frozen_encoders_are_standardised_and_stats_are_saved():
    enc = nn.Linear(640, 6)
    enc.forward = lambda x, padding_mask=None: x.reshape(x.shape[0], -1, 640) @ torch.ones(640, 6) * 1e-3
    frozen = ClassificationObjective(enc, "audio", 6, 3, hidden=4, freeze_encoder=True, feature_norm=True)
    tuned = ClassificationObjective(enc, "audio", 6, 3, hidden=4, freeze_encoder=False, feature_norm=True)
    assert frozen.feature_norm is not None and tuned.feature_norm is None
    assert "feature_norm.norm.running_mean" in frozen.state_dict()  # evaluation uses the training statistics
    batch = {"audio": torch.randn(4, 640 * 5) + 2.0, "label": torch.tensor([0, 1, 2, 0])}
    feats, _ = frozen.train().encode(batch)
    assert torch.allclose(feats.reshape(-1, 6).mean(0), torch.zeros(6), atol=1e-5)
    assert not torch.equal(frozen.feature_norm.norm.running_mean, torch.zeros(6))
    # the head's group only: no encoder group, and the norm adds no parameters to it
    assert [g["name"] for g in frozen.param_groups()[0]["params"]] == ["head"]
    assert not list(frozen.feature_norm.parameters())


def test_task_optimizer_param_chooses_adam_or_adamw():
    """finetune.<task>.optimizer reaches the training loop: with weight decay, Adam (L2 in the gradient) and AdamW
    (decoupled) give different updates; without it they coincide (the default heads are unchanged by the choice)."""
    from avssl.config.train import TrainParams
    from avssl.training.loop import _optimizers

    def one_step(optimizer: str, weight_decay: float) -> torch.Tensor:
        torch.manual_seed(0)
        enc = nn.Linear(640, 6)
        obj = ClassificationObjective(enc, "audio", 6, 3, hidden=4, freeze_encoder=True, optimizer=optimizer,
                                      weight_decay=weight_decay, lr_head=0.1)
        opt = _optimizers(obj, TrainParams(), total=10, warmup=0, fused=False)[0].optimizer
        for p in obj.classifier.parameters():
            p.grad = torch.ones_like(p)
        opt.step()
        return obj.classifier.weight.detach().clone()

    assert not torch.equal(one_step("adam", 0.5), one_step("adamw", 0.5))
    assert torch.equal(one_step("adam", 0.0), one_step("adamw", 0.0))


def _frozen_head(**kwargs) -> ClassificationObjective:
    enc = nn.Linear(640, 6)
    enc.forward = lambda x, padding_mask=None: x.reshape(x.shape[0], -1, 640) @ torch.ones(640, 6) * 1e-3
    return ClassificationObjective(enc, "audio", 6, 3, hidden=4, freeze_encoder=True, **kwargs).train()


def test_the_loader_sends_a_frozen_heads_samples_only_until_its_features_are_cached():
    """reads_input tells the loader which clips' samples encode() will read: a frozen audio head's training
    clips until each was encoded once, never those whose features come from the table; everything otherwise."""
    torch.manual_seed(0)
    obj = _frozen_head()
    lengths = torch.tensor([5, 3])
    audio = torch.randn(2, 5 * 640) * (torch.arange(5 * 640) < lengths[:, None] * 640)
    batch = {"clip_id": ["a", "b"], "lengths": lengths, "padding_mask": torch.arange(5) >= lengths[:, None],
             "audio": audio, "label": torch.tensor([0, 2])}  # fmt: skip
    assert obj.reads_input("a", training=True) and obj.reads_input("a", training=False)
    with torch.no_grad():
        first = obj.logits(batch)
        assert not obj.reads_input("a", training=True) and not obj.reads_input("b", training=True)
        assert obj.reads_input("c", training=True) and obj.reads_input("a", training=False)  # eval encodes
        without = {k: v for k, v in batch.items() if k != "audio"}
        assert torch.equal(obj.logits(without), first)
        mixed = dict(batch, clip_id=["a", "c"], audio=audio * torch.tensor([[0.0], [1.0]]))  # a's row not loaded
        obj.logits(mixed)
        assert torch.equal(obj._feature_cache["c"], obj._feature_cache["b"])  # c: b's samples, encoded alone

    obj.use_features({"a": torch.zeros(5, 6)})
    assert not obj.reads_input("a", training=True) and not obj.reads_input("a", training=False)
    noisy = _frozen_head(noise_augment=lambda x, *_: x)  # new noise every epoch: training encodes every step
    assert noisy.reads_input("a", training=True)
    noisy.use_features({"a": torch.zeros(5, 6)})
    assert noisy.reads_input("a", training=True) and not noisy.reads_input("a", training=False)
    tuned = ClassificationObjective(nn.Linear(640, 6), "audio", 6, 3, hidden=4, freeze_encoder=False)
    assert tuned.reads_input("a", training=True) and tuned.reads_input("a", training=False)
