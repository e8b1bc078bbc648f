"""The `features` stage: a frozen encoder's features computed once, and heads trained/evaluated from them.

What users rely on: a frozen head trained from the cached features is bit-identical to one trained the old way
(the encoder run inside the job), the cached noisy test features are exactly the encoder's output on the audio
`avssl evaluate` draws, and a bank made with other noise settings or another checkpoint is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from resume_harness import TinyCorpus, tiny_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class TestCorpus(TinyCorpus):
    """TinyCorpus with speaker s2 held out as the test split (evaluation needs one)."""

    __test__ = False

    def __init__(self):
        super().__init__()
        for row in self.index:
            if row["speaker"] == "s2":
                row["split"] = "test"
                self._clips[row["clip_id"]]["meta"]["split"] = "test"


@pytest.fixture
def corpus(monkeypatch):
    import avssl.data.processed as processed

    monkeypatch.setattr(processed, "ProcessedDataset", lambda path: TestCorpus())
    return TestCorpus()


@pytest.fixture
def params():
    return tiny_params(["evaluate.snrs=[clean,5.0]", "evaluate.noise_types=[babble,white]"])


@pytest.fixture
def pretrained(tmp_path, params):
    """A 'pre-trained' Shukla audio encoder checkpoint (random weights, our checkpoint format)."""
    from avssl.models import registry
    from avssl.models.checkpoint import save_encoders
    from avssl.tasks.setup import encoder_spec

    torch.manual_seed(0)
    arch, config = encoder_spec(params, "emotion", "random")
    return save_encoders(tmp_path / "pretrain", {"audio": registry.build(arch, **config)})


def test_features_are_the_encoder_on_each_clip_and_condition(tmp_path, corpus, params, pretrained):
    from avssl.data.batching import ClipDataset, collate
    from avssl.models.encode import clip_features
    from avssl.models.load import load_encoder
    from avssl.tasks.evaluate import NoisySource, babble_pool, conditions
    from avssl.tasks.features import FeatureBank, run_features

    manifest = run_features(params, "shukla_audio", pretrained, "unused", tmp_path / "feat")
    assert json.loads((tmp_path / "feat" / "manifest.json").read_text()) == manifest
    conds = manifest["modalities"]["audio"]["conditions"]
    assert list(conds) == [c[0] for c in conditions(params, "audio")] == ["clean", "babble_5", "white_5"]
    assert conds["clean"]["clips"] == len(corpus.ids()) and conds["white_5"]["clips"] == len(corpus.ids("test"))
    # Byte-identical files from identical features (DVC hashes them): safetensors writes its metadata map in a
    # per-process random order, so the stage stores one sorted entry.
    again = run_features(params, "shukla_audio", pretrained, "unused", tmp_path / "again")
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in manifest.items() if k != "seconds"}
    for rel in (c["file"] for c in conds.values()):
        assert (tmp_path / "feat" / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel

    bank = FeatureBank(tmp_path / "feat", params, checkpoint=pretrained)
    encoder = load_encoder(pretrained, modality="audio")
    clip = corpus.ids("test")[1]
    for name, noise, snr in conditions(params, "audio"):
        source = NoisySource(corpus, noise, snr, params.evaluate.noise_seed, babble_pool(corpus, "audio"),
                             params.evaluate.babble_speakers)
        batch = collate([ClipDataset(source, [clip], train=False, modalities=("audio",))[0]])
        want = clip_features(encoder, batch["audio"], int(batch["lengths"][0]), "audio")
        assert torch.equal(bank.table("audio", name)[clip], want), name
    assert not torch.equal(bank.table("audio", "clean")[clip], bank.table("audio", "babble_5")[clip])

    with pytest.raises(ValueError, match="noise_seed"):
        FeatureBank(tmp_path / "feat", tiny_params(["evaluate.snrs=[clean,5.0]", "evaluate.noise_types=[babble,white]",
                                                    "evaluate.noise_seed=7"]))
    with pytest.raises(KeyError, match="babble_0"):
        bank.table("audio", "babble_0")
    with pytest.raises(KeyError, match="re-run the features stage"):
        bank.table("audio", "clean")["no-such-clip"]


def test_frozen_head_from_cached_features_equals_the_old_way(tmp_path, corpus, params, pretrained):
    from safetensors.torch import load_file

    from avssl.data.batching import ClipDataset, collate
    from avssl.tasks.evaluate import load_task_model, run_evaluate
    from avssl.tasks.features import FeatureBank, run_features
    from avssl.tasks.finetune import run_finetune

    run_features(params, "shukla_audio", pretrained, "unused", tmp_path / "feat")
    job = (params, "emotion", "shukla_audio", "frozen", 1.0, 0, "unused")
    loads = []  # (training?, clip): the samples the loader sliced and copied
    real_samples = ClipDataset._samples

    def record(self, item, *args):
        loads.append((self.train, item["meta"]["clip_id"]))
        return real_samples(self, item, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ClipDataset, "_samples", record)
        old = run_finetune(*job, tmp_path / "old", pretrained=pretrained, progress=False)
    # the in-process cache: each training clip's audio is loaded for its first encoding only (3 epochs here)
    train_ids = sorted(r["clip_id"] for r in corpus.index if r["split"] == "train")
    assert sorted(c for train, c in loads if train) == train_ids

    def no_encoding(*args, **kwargs):
        raise AssertionError("the job encoded a clip although its features are cached")

    def no_loading(*args, **kwargs):
        raise AssertionError("the loader loaded a clip's audio although the model reads its cached features")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("avssl.models.encode.clip_features", no_encoding)
        mp.setattr(ClipDataset, "_samples", no_loading)
        new = run_finetune(*job, tmp_path / "new", pretrained=pretrained, progress=False, features=tmp_path / "feat")
    w_old, w_new = load_file(str(tmp_path / "old" / "model.safetensors")), load_file(str(tmp_path / "new" / "model.safetensors"))
    assert w_old.keys() == w_new.keys() and all(torch.equal(w_old[k], w_new[k]) for k in w_old)
    train_keys = [k for k in old if k.startswith("train/")]
    assert train_keys and all(old[k] == new[k] for k in train_keys)
    # validation now reads each clip's own features instead of a padded batch: the same up to float rounding
    assert all(abs(old[k] - new[k]) < 1e-4 for k in old if k.startswith("val/"))

    ev_old = run_evaluate(params, tmp_path / "old", "unused", tmp_path / "ev_old")
    ev_new = run_evaluate(params, tmp_path / "new", "unused", tmp_path / "ev_new", features=tmp_path / "feat")
    assert ev_old["conditions"].keys() == ev_new["conditions"].keys()
    assert all(v["n"] == ev_new["conditions"][c]["n"] for c, v in ev_old["conditions"].items())

    # Test logits: a padded batch through the encoder (the old evaluation) vs each clip's cached features.
    model, _, _ = load_task_model(params, tmp_path / "new")
    ids = corpus.ids("test")
    batch = collate([ClipDataset(corpus, ids, train=False, modalities=("audio",))[i] for i in range(len(ids))])
    with torch.no_grad():
        batched = model.predict(batch)["logits"]
        model.use_features(FeatureBank(tmp_path / "feat").table("audio", "clean"))
        cached = model.predict(batch)["logits"]
    assert torch.allclose(batched, cached, atol=1e-4), (batched - cached).abs().max()


def test_cached_features_need_a_frozen_encoder(tmp_path, corpus, params, pretrained):
    from avssl.tasks.features import run_features
    from avssl.tasks.finetune import run_finetune

    run_features(params, "shukla_audio", pretrained, "unused", tmp_path / "feat")
    with pytest.raises(ValueError, match="frozen"):
        run_finetune(params, "emotion", "shukla_audio", "finetuned", 1.0, 0, "unused", tmp_path / "ft",
                     pretrained=pretrained, progress=False, features=tmp_path / "feat")


def test_every_frozen_pretrained_job_reads_its_features_and_no_other_job_does():
    """The stage table: each fine-tuning/evaluation job in exactly one rule; frozen pre-trained ones depend on
    their init's `features` job, which exists exactly for those inits."""
    from avssl.config import load_params
    from avssl.stages import BY_NAME, FEATURES_DIR, feature_jobs, finetune_jobs, job_deps

    root = Path(__file__).resolve().parents[1]
    for preset in ("params.yaml", ".test/params.yaml"):
        params = load_params([root / preset]).model_dump(mode="json")
        key = lambda j: tuple(j[w] for w in ("task", "init", "mode", "fraction", "seed"))  # noqa: E731
        for group in (("finetune", "finetune_frozen", "finetune_scratch"), ("evaluate", "evaluate_frozen")):
            keys = [key(j) for name in group for j in BY_NAME[name].jobs(params)]
            assert sorted(keys) == sorted(key(j) for j in finetune_jobs(params)), (preset, group)
        frozen = [j for j in finetune_jobs(params) if j["mode"] == "frozen" and j["init"] in
                  ("raven", "shukla_visual", "shukla_audio", "shukla_multitask")]  # fmt: skip
        assert frozen, preset
        assert {j["init"] for j in feature_jobs(params)} == {j["init"] for j in frozen}
        for name in ("finetune_frozen", "evaluate_frozen"):
            for job in BY_NAME[name].jobs(params):
                assert FEATURES_DIR.format(**job) in job_deps(BY_NAME[name], params, job)
        for name in ("finetune", "finetune_scratch", "evaluate"):
            for job in BY_NAME[name].jobs(params):
                assert not any(d.startswith("results/features") for d in job_deps(BY_NAME[name], params, job))
