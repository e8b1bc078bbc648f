"""RAVEn pre-training as the official code runs it (issue 16): per-modality masks cut to equal counts per row,
a teacher whose stochastic depth stays on, probe heads on detached features, and the published recipes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from avssl.config import load_params
from avssl.config.raven import RavenParams
from avssl.models.raven.attention import RelPositionMultiHeadedAttention
from avssl.models.raven.block import DropPath
from avssl.training.masking import span_mask
from avssl.training.raven import RavenObjective, build_objective
from avssl.training.raven_probe import VOCAB_SIZE, char_labels, decode_chars, encode_chars

from conftest import RAVEN_TINY as TINY

REPO = Path(__file__).resolve().parents[1]
LENGTHS = torch.tensor([60, 48, 33, 55])  # different lengths -> different span counts per row
T = 60


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**kw) -> RavenObjective:
    torch.manual_seed(0)
    return build_objective(RavenParams(**{**TINY, **kw}))


def batch(B=4, seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    lengths = LENGTHS[:B]
    return {"video": torch.randn(B, T, 88, 88, generator=g), "audio": 0.1 * torch.randn(B, T * 640, generator=g),
            "lengths": lengths}


def counts(mask: torch.Tensor) -> list[int]:
    return mask.sum(1).tolist()


def test_fairseq_subsampling_keeps_a_subset_with_the_smallest_rows_count():
    """subsample=True is the same draw as subsample=False (same stream), then each row keeps a random subset of
    exactly min-over-rows masked frames, as fairseq's compute_mask_indices does; padding is never masked."""
    for seed in range(20):
        whole = span_mask(LENGTHS, T, 0.2, 3, generator=torch.Generator().manual_seed(seed))
        cut = span_mask(LENGTHS, T, 0.2, 3, generator=torch.Generator().manual_seed(seed), subsample=True)
        assert not (cut & ~whole).any(), "subsampling only removes masked frames"
        assert counts(cut) == [min(counts(whole))] * len(LENGTHS)
        assert not (cut & (torch.arange(T)[None] >= LENGTHS[:, None])).any()
    # fairseq's span count: n = int(p * L / span + U) -> L = 60 gives 4 or 5 spans of 3 frames (<= 15 frames)
    n = [int(span_mask(torch.tensor([60]), 60, 0.2, 3, generator=torch.Generator().manual_seed(s)).sum())
         for s in range(200)]
    assert max(n) <= 15 and min(n) >= 3 and 10 <= sum(n) / len(n) <= 12.5


def _fairseq_reference_counts(lengths: list[int], p: float, span: int, rng) -> tuple[list[int], int]:
    """Masked count per row before subsampling, and after (fairseq 0.10.2 compute_mask_indices, static spans,
    overlap allowed, min_masks 1), written from its documented rule with numpy's generator."""
    import numpy as np

    rows = []
    for L in lengths:
        n = max(1, int(p * L / span + rng.random()))
        shortest = span if L - span > n else L - n - 1
        starts = rng.choice(L - shortest, n, replace=False)
        idx = np.unique((starts[:, None] + np.arange(span)[None, :]).ravel())
        rows.append(int((idx < L).sum()))
    return rows, min(rows)


def test_mask_counts_have_fairseqs_distribution():
    """Same distribution as an independent numpy version of fairseq's rule: the mean masked count of every row
    before subsampling and of the common count after (2000 batches each; within 4 standard errors)."""
    import numpy as np

    lengths, n = [60, 48, 33, 55, 9, 4], 2000  # 4: the short-sequence start-range rule
    rng, g = np.random.default_rng(0), torch.Generator().manual_seed(0)
    ref = np.array([_fairseq_reference_counts(lengths, 0.2, 3, rng)[0] for _ in range(n)])
    ours_whole = np.array([counts(span_mask(torch.tensor(lengths), 60, 0.2, 3, generator=g)) for _ in range(n)])
    ours_cut = np.array([counts(span_mask(torch.tensor(lengths), 60, 0.2, 3, generator=g, subsample=True))
                         for _ in range(n)])
    assert (ours_cut == ours_cut[:, :1]).all()
    for a, b in ((ref, ours_whole), (ref.min(1, keepdims=True), ours_cut[:, :1])):
        se = np.sqrt(a.var(0) / n + b.var(0) / n) + 1e-9
        assert (np.abs(a.mean(0) - b.mean(0)) < 4 * se + 1e-9).all(), (a.mean(0), b.mean(0))


def test_short_sequences_follow_fairseqs_start_range_rule():
    """When L - span <= n, fairseq draws the starts from [0, n + 1) and keeps whole spans (cut at L): L 4, p 0.9
    -> n 1 (3 frames) or n 2 (3 or 4 frames); never the 2-frame spans of a shortened span length."""
    seen = set()
    for s in range(50):
        m = span_mask(torch.tensor([4]), 4, 0.9, 3, generator=torch.Generator().manual_seed(s))
        seen.add(int(m.sum()))
    assert seen == {3, 4}


def test_official_default_masks_versus_shared_option_on_the_same_weights_and_stream():
    official, ours = tiny(), tiny(mask_sharing="shared", mask_subsample=False)
    assert (official.p.mask_sharing, official.p.mask_subsample) == ("per_modality", True)  # defaults = official
    sd_a = {k: v for k, v in official.state_dict().items() if not k.endswith("_extra_state")}
    sd_b = {k: v for k, v in ours.state_dict().items() if not k.endswith("_extra_state")}
    assert sd_a.keys() == sd_b.keys() and all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a), "same weights"
    assert torch.equal(official.generator.get_state(), ours.generator.get_state()), "same random stream"

    state = official.generator.get_state()
    v, a = official.draw_masks(LENGTHS, T)
    assert not torch.equal(v, a), "official: the video and the audio student draw their own masks"
    assert len(set(counts(v))) == 1 and len(set(counts(a))) == 1, "official: equal masked counts per row"
    official.generator.set_state(state)
    sv, sa = ours.draw_masks(LENGTHS, T)
    assert torch.equal(sv, sa), "option: one mask shared by both students"
    assert len(set(counts(sv))) > 1, "option: rows keep their own span counts"
    # the first official draw is the option's draw (same stream) cut to equal counts
    assert not (v & ~sv).any() and counts(v)[0] == min(counts(sv))

    # forward() uses exactly these masks: same losses as when they are passed in explicitly
    b = batch()
    for obj, (mv, ma) in ((official, (v, a)), (ours, (sv, sa))):
        obj.train()
        obj.generator.set_state(state)
        torch.manual_seed(7)
        drawn = obj(b)
        torch.manual_seed(7)
        given = obj({**b, "mask_video": mv, "mask_audio": ma})
        for k in ("loss_v2a", "loss_a2a", "loss_a2v", "mask_fraction_video", "mask_fraction_audio"):
            assert torch.allclose(drawn[k], given[k], atol=1e-6), k
    valid = int(LENGTHS.sum())
    assert float(drawn["mask_fraction_video"]) == pytest.approx(int(sv.sum()) / valid)


def _teacher_targets(obj: RavenObjective, x: torch.Tensor, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return obj.model_audio.targets(x, None)


def test_large_teacher_keeps_stochastic_depth_and_drops_only_dropout():
    large = RavenParams(size="large")
    assert large.encoder_config()["drop_path"] == 0.1 and large.teacher_drop_path, "Large: drop_path on in teacher"
    dp = large.encoder_config()["drop_path"]
    official, ours = tiny(drop_path=dp).train(), tiny(drop_path=dp, teacher_drop_path=False).train()
    x = batch(B=4)["audio"]
    # official: same weights, different random streams -> different targets (blocks dropped per sample)
    assert not torch.equal(_teacher_targets(official, x, 1), _teacher_targets(official, x, 2))
    t = official.model_audio.target_encoder
    assert all(m.training for m in t.modules() if isinstance(m, DropPath))
    random_off = (torch.nn.Dropout, RelPositionMultiHeadedAttention)  # attention dropout is functional in the module
    assert not any(m.training for m in t.modules() if isinstance(m, random_off))
    assert all(m.training for m in t.modules() if isinstance(m, torch.nn.BatchNorm1d))
    # option: deterministic teacher
    assert torch.equal(_teacher_targets(ours, x, 1), _teacher_targets(ours, x, 2))
    # without drop_path (Base) the official teacher is deterministic too: only Dropout was ever random
    base = tiny().train()
    assert torch.equal(_teacher_targets(base, x, 1), _teacher_targets(base, x, 2))
    # evaluation (objective.eval()) is deterministic in both
    official.eval()
    assert torch.equal(_teacher_targets(official, x, 1), _teacher_targets(official, x, 2))


PROBE = dict(probe_heads=True, probe_decoder_dim=32, probe_decoder_heads=2, probe_decoder_units=64,
             probe_decoder_layers=1)


def test_probe_heads_read_detached_features_and_share_the_students_optimiser():
    plain, probed = tiny(), tiny(**PROBE)
    missing = probed.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(".probe." in k for k in missing)
    texts = ["hello world", "the cat", "", "a b c"]  # the empty transcript does not count
    b = {**batch(), "probe_tokens": [torch.tensor(encode_chars(t)) for t in texts]}
    b["probe_tokens"] = torch.nn.utils.rnn.pad_sequence(b["probe_tokens"], batch_first=True, padding_value=-1)
    outs = {}
    for name, obj in (("plain", plain), ("probed", probed)):
        obj.train()
        obj.generator.manual_seed(3)
        torch.manual_seed(5)
        out = obj(b)
        obj.zero_grad(set_to_none=True)
        out["loss"].backward()
        outs[name] = (out, {n: p.grad.clone() for n, p in obj.model_video.encoder.named_parameters()})
    (o_plain, g_plain), (o_probe, g_probe) = outs["plain"], outs["probed"]
    for k in ("loss_v2a", "loss_a2a", "loss_a2v"):
        assert torch.equal(o_plain[k], o_probe[k])
    assert all(torch.allclose(g_plain[n], g_probe[n], atol=1e-7) for n in g_plain), "probes must not reach the encoder"
    for m in ("video", "audio"):
        assert o_probe[f"probe_{m}/loss_ctc"] > 0 and o_probe[f"probe_{m}/loss_att"] > 0
        assert 0.0 <= float(o_probe[f"probe_{m}/wer"]) and 0.0 <= float(o_probe[f"probe_{m}/acc"]) <= 1.0
    extra = o_probe["loss"] - (o_probe["loss_video"] + o_probe["loss_audio"])
    assert torch.allclose(extra, o_probe["probe_video/loss"] + o_probe["probe_audio/loss"], atol=1e-5)
    # the probe parameters are in the student's AdamW group, so they are clipped with the student (official)
    groups = {g["name"]: {id(p) for p in g["params"]} for g in probed.param_groups()}
    assert {id(p) for p in probed.model_video.probe.parameters()} <= groups["video"]
    assert {id(p) for p in probed.model_audio.probe.parameters()} <= groups["audio"]
    assert probed.model_video.probe.ctc.ctc_lo.out_features == VOCAB_SIZE
    assert plain.labels is None and probed.labels is char_labels


def test_probe_labels_from_clip_metadata():
    assert decode_chars(encode_chars("  Hello,  WORLD's 2 ")) == "hello world's 2"
    assert char_labels({"text": "ab"})["probe_tokens"].tolist() == encode_chars("ab")
    assert char_labels({})["probe_tokens"].numel() == 0
    assert char_labels({"text": float("nan")})["probe_tokens"].numel() == 0


def test_raven_reference_facts_against_params_and_overlays():
    """shared/reference/raven.md + the official scripts/pretraining/*.sh, asserted against the params model."""
    p = RavenParams()
    assert (p.mask_prob, p.mask_span, p.mask_mode, p.min_masks) == (0.2, 3, "fairseq", 1)
    assert (p.mask_sharing, p.mask_subsample, p.teacher_drop_path, p.probe_heads) == ("per_modality", True, True, False)
    assert (p.momentum_start, p.momentum_end) == (0.999, 1.0)
    assert (p.effective_lr(), p.weight_decay, p.betas, p.min_lr, p.grad_clip) == (3e-3, 0.04, (0.9, 0.999), 1e-5, 3.0)
    assert (p.predictor_layers, p.predictor_width, p.predictor_heads, p.predictor_ffn) == (2, 512, 8, 2048)
    probe = (p.probe_decoder_dim, p.probe_decoder_heads, p.probe_decoder_units, p.probe_decoder_layers)
    assert probe == (256, 4, 2048, 6)
    assert p.effective_warmup_fraction() * 150 == pytest.approx(40)
    large = RavenParams(size="large")
    assert large.effective_lr() == 2e-3 and large.effective_warmup_fraction() * 150 == pytest.approx(30)
    # the published recipes, each in its overlay: (size, lr, warm-up epochs of 150, global frames per batch)
    recipes = {"raven_base_lrs3": ("base", 3e-3, 40, 2400 * 32), "raven_base_lrs3_vox2": ("base", 3e-3, 20, 2400 * 32),
               "raven_large_lrs3_vox2": ("large", 2e-3, 30, 900 * 128)}
    for name, (size, lr, warmup, frames) in recipes.items():
        overlay = REPO / "workflow/presets" / f"{name}.yaml"
        assert yaml.safe_load(overlay.read_text())["raven"]["warmup_fraction"] is not None, f"{name}: explicit"
        merged = load_params([REPO / "params.yaml", overlay])
        r, t = merged.raven, merged.train
        assert (r.size, r.effective_lr(), t.epochs, t.batch_frames) == (size, lr, 150, frames), name
        assert r.effective_warmup_fraction() * t.epochs == pytest.approx(warmup), name
        assert (r.mask_prob, r.mask_span, r.weight_decay, r.grad_clip, r.momentum_start) == (0.2, 3, 0.04, 3.0, 0.999)
        assert (r.mask_sharing, r.mask_subsample, r.teacher_drop_path) == ("per_modality", True, True), name
        groups = build_objective_groups(r)
        assert all(g["warmup_fraction"] == r.effective_warmup_fraction() and g["lr"] == lr for g in groups)


def build_objective_groups(r: RavenParams) -> list[dict]:
    """param_groups() of the objective without building full-size encoders: the same dict fields on TINY dims."""
    obj = RavenObjective(RavenParams(**{**r.model_dump(), **TINY, "lr": r.effective_lr(),
                                        "warmup_fraction": r.effective_warmup_fraction(), "drop_path": None}))
    return obj.param_groups()


def test_loop_gives_each_raven_optimiser_the_recipes_warmup():
    from avssl.config.train import TrainParams
    from avssl.training.loop import _optimizers

    obj = tiny(warmup_fraction=0.25)
    optims = _optimizers(obj, TrainParams(warmup_fraction=0.1), total=100, warmup=10, fused=False)
    for o in optims:  # linear warm-up over 25 of 100 steps, not train.warmup_fraction's 10
        lrs = [o.scheduler.lr_lambdas[0](s) for s in (0, 12, 25, 26)]
        assert lrs[0] == pytest.approx(1 / 25) and lrs[1] == pytest.approx(13 / 25)
        assert lrs[2] == pytest.approx(1.0) and lrs[3] < 1.0


def test_pretrain_stage_logs_the_probe_wer_to_the_run(monkeypatch, tmp_path):
    """probe_heads on: the pre-training stage feeds the clips' transcripts to the probes and the run (MLflow in the
    pipeline) receives the probes' WER, accuracy and losses for training windows and validation."""
    from types import SimpleNamespace

    import avssl.data.processed as processed
    import avssl.training.pretrain as pretrain
    from test_training_fakes import FakeProcessedDataset, tiny_cfg

    source = FakeProcessedDataset(n=12, lengths=[10, 12, 14, 16] * 3, seed=2)
    for i, cid in enumerate(source.ids()):
        source[cid]["meta"]["text"] = ["hello world", "the cat sat", "", "a b"][i % 4]
    monkeypatch.setattr(processed, "ProcessedDataset", lambda path: source)

    class Run:
        def __init__(self):
            self.metrics = {}

        def log_metrics(self, metrics, step=None):
            self.metrics.update(metrics)

        def log_artifact(self, path, artifact_path=None):
            pass

    run = Run()
    params = SimpleNamespace(study=SimpleNamespace(seed=0), raven=RavenParams(**{**TINY, **PROBE}),
                             train=tiny_cfg(steps=2, log_every=1, batch_frames=64, max_frames=16))
    pretrain.run_pretrain(params, "raven", tmp_path / "proc", tmp_path / "out", run, progress=False)
    for key in ("train/probe_video/wer", "train/probe_audio/wer", "val/probe_video/wer", "train/probe_audio/acc",
                "train/probe_video/loss_ctc"):
        assert key in run.metrics and run.metrics[key] >= 0.0, key
