"""The training loop on a toy objective: learning, logging, determinism, in-process SIGTERM resume."""

import os
import signal

import pytest
import torch

from avssl.training.loop import Preempted, clip_grad_norm, train
from avssl.training.plots import plot_training_curves
from test_training_fakes import toy_setup, tiny_cfg


class RecordingRun:
    def __init__(self):
        self.metrics = []

    def log_metrics(self, metrics, step=None):
        self.metrics.append((step, dict(metrics)))


def _state(obj):
    return {k: v.clone() for k, v in obj.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    obj, tr, va = toy_setup()
    run = RecordingRun()
    out = tmp_path_factory.mktemp("ref")
    res = train(obj, tr, tiny_cfg(), out, run, seed=7, val_dataset=va, progress=False)
    return obj, res, run, out


def test_trains_logs_and_checkpoints(reference):
    obj, res, run, out = reference
    hist = res["history"]
    assert res["steps"] == 12 and [h["step"] for h in hist] == [2, 4, 6, 8, 10, 12]
    assert hist[-1]["train/loss"] < hist[0]["train/loss"]
    for key in ("train/loss", "train/v2a", "train/a2a", "lr/video", "lr/audio", "grad_norm/video",
                "objective/momentum", "perf/frames_per_s"):
        assert key in hist[-1], key
    assert hist[-1]["objective/momentum"] == pytest.approx(1.0)
    assert hist[-1]["lr/video"] == pytest.approx(1e-5)  # cosine reached the floor
    assert "val/loss" in res and res["frames_per_s"] > 0 and res["seconds"] > 0
    steps_logged = [s for s, m in run.metrics if "train/loss" in m]
    assert steps_logged == [2, 4, 6, 8, 10, 12]
    assert (out / "checkpoints" / "last.pt").is_file()
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"] == 12


def test_grad_clip_from_objective_and_cfg():
    from avssl.training.loop import _optimizers

    obj, _, _ = toy_setup()
    assert {o.clip for o in _optimizers(obj, tiny_cfg(), 10, 1, False)} == {1.0}
    assert {o.clip for o in _optimizers(obj, tiny_cfg(grad_clip=0.5), 10, 1, False)} == {0.5}
    opts = _optimizers(obj, tiny_cfg(), 10, 1, False)
    assert [o.name for o in opts] == ["video", "audio"]
    assert opts[0].optimizer.param_groups[0]["weight_decay"] == 0.01
    assert opts[1].optimizer.param_groups[0]["weight_decay"] == tiny_cfg().weight_decay


@pytest.mark.parametrize("max_norm", [0.05, 3.0, float("inf")])
def test_clip_grad_norm_is_torchs_bit_for_bit(max_norm):
    """The loop's clip returns the same norm and leaves the same gradients as torch's (None grads skipped)."""
    def params():
        g = torch.Generator().manual_seed(3)
        ps = [torch.nn.Parameter(torch.randn(s, generator=g)) for s in [(7, 5), (5,), (3, 4, 2), ()]]
        for p in ps[:3]:
            p.grad = torch.randn(p.shape, generator=g)
        return ps
    ours, theirs = params(), params()
    n_ours, n_theirs = clip_grad_norm(ours, max_norm), torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert torch.equal(n_ours, n_theirs) and ours[3].grad is None
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(ours[:3], theirs[:3]))


def test_same_seed_bit_identical_other_seed_differs(reference, tmp_path):
    ref_obj, ref_res, _, _ = reference
    obj, tr, va = toy_setup()
    res = train(obj, tr, tiny_cfg(), tmp_path / "a", seed=7, val_dataset=va, progress=False)
    assert _same(_state(obj), _state(ref_obj))
    strip = lambda h: [{k: v for k, v in r.items() if not k.startswith("perf/")} for r in h]  # noqa: E731
    assert strip(res["history"]) == strip(ref_res["history"])
    assert res["val/loss"] == ref_res["val/loss"]
    obj2, tr2, _ = toy_setup()
    train(obj2, tr2, tiny_cfg(), tmp_path / "b", seed=8, progress=False)
    assert not _same(_state(obj2), _state(ref_obj))


def test_sigterm_checkpoints_then_resume_is_bit_identical(reference, tmp_path):
    ref_obj, ref_res, _, _ = reference
    obj, tr, va = toy_setup()
    original = obj.on_step_end

    def on_step_end(step, total):  # SLURM preemption in the middle of step 5 (mid-epoch, off-checkpoint)
        if step == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(step, total)

    obj.on_step_end = on_step_end
    with pytest.raises(Preempted) as exc:
        train(obj, tr, tiny_cfg(), tmp_path, seed=7, val_dataset=va, progress=False)
    assert exc.value.step == 5
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["step"] == 5 and ckpt["batch"] > 0
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))
    # a fresh process-like restart: new objective, same settings
    obj2, tr2, va2 = toy_setup()
    res = train(obj2, tr2, tiny_cfg(), tmp_path, seed=7, val_dataset=va2, progress=False)
    assert _same(_state(obj2), _state(ref_obj))
    assert [h["train/loss"] for h in res["history"]] == [h["train/loss"] for h in ref_res["history"]]
    # re-running a finished job is a no-op that returns the same final metrics
    obj3, tr3, va3 = toy_setup()
    res3 = train(obj3, tr3, tiny_cfg(), tmp_path, seed=7, val_dataset=va3, progress=False)
    assert _same(_state(obj3), _state(ref_obj)) and res3["train/loss"] == ref_res["train/loss"]


def test_resume_with_other_settings_refuses(reference, tmp_path):
    obj, tr, _ = toy_setup()
    train(obj, tr, tiny_cfg(steps=2, checkpoint_every=1), tmp_path, seed=7, progress=False)
    obj2, tr2, _ = toy_setup()
    with pytest.raises(ValueError, match="other settings"):
        train(obj2, tr2, tiny_cfg(steps=2, lr=2e-3), tmp_path, seed=7, progress=False)


def test_epochs_mode_and_worker_independence(tmp_path):
    obj, tr, _ = toy_setup()
    res = train(obj, tr, tiny_cfg(epochs=1, log_every=1), tmp_path / "e", seed=7, progress=False)
    from avssl.data.batching import FrameBatchSampler
    from avssl.training.determinism import derive_seed

    s = FrameBatchSampler(tr.lengths, 120, num_buckets=2, seed=derive_seed(7, "sampler"), multiple_of=2)
    assert res["steps"] == len(s.global_batches(0)) and res["epochs"] == 1.0
    obj2, tr2, _ = toy_setup()
    train(obj2, tr2, tiny_cfg(epochs=1, log_every=1, num_workers=2), tmp_path / "w", seed=7, progress=False)
    assert _same(_state(obj), _state(obj2))


def test_plot_training_curves(reference, tmp_path):
    _, res, _, _ = reference
    path = plot_training_curves(res["history"], tmp_path / "curve.png", title="toy")
    assert path.stat().st_size > 5000 and path.read_bytes()[:4] == b"\x89PNG"
