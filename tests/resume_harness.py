"""Every training stage on a tiny in-memory corpus, with deterministic kill points (used by test_resume_stages).

A *stage* is a pre-training method (``pretrain:<method>``) or a fine-tuning job (``finetune:<task>:<init>:<mode>``)
run through the real ``run_pretrain`` / ``run_finetune`` (real objectives, tokenizer, loop, export), only the
processed corpus is faked. A *kill* is ``(when, step, signal)``:

- ``when="step"``: inside step ``step`` (after the optimiser step, before that step's checkpoint);
- ``when="saved"``: right after the checkpoint of step ``step`` is on disk (``step = -1``: the last one, i.e.
  after training, before averaging and export);
- ``signal="KILL"``: in a subprocess a real ``SIGKILL`` to itself; in-process an exception nothing catches
  (nothing of the process survives a re-run: every stage rebuilds its state from params + checkpoint);
- ``signal="TERM"``: a real ``SIGTERM`` to the own process (SLURM pre-emption): the loop checkpoints and
  raises ``Preempted``.

Command line (subprocess tests): ``python tests/resume_harness.py STAGE OUT [--kill WHEN:STEP:SIGNAL]``;
exit status 143 after a SIGTERM, killed by SIGKILL, 0 when the stage finished.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["bin", "blue", "at", "f", "two", "now", "lay", "green", "by", "please"]
EMOTIONS = ["angry", "happy", "neutral"]

# Tiny sizes: a few steps per epoch, checkpoints every 2 steps, several epochs for checkpoint averaging.
OVERRIDES = [
    "train.steps=6", "train.checkpoint_every=2", "train.log_every=2", "train.batch_frames=60", "train.max_frames=20",
    "train.batch_multiple=1", "train.num_workers=0", "train.device=cpu", "train.val_batches=1",
    "raven.layers=1", "raven.adim=16", "raven.heads=2", "raven.ffn=32", "raven.frontend_width=4",
    "raven.predictor_layers=1", "raven.predictor_width=16", "raven.predictor_heads=2", "raven.predictor_ffn=32",
    "shukla.cnn_channels=2", "shukla.code_dim=8", "shukla.gru_hidden=8", "shukla.gru_layers=1",
    "shukla.identity_channels=2", "shukla.identity_layers=2", "shukla.identity_code_dim=8",
    "shukla.attribute_head_hidden=8", "shukla.face_size=16",
    "finetune.emotion.epochs=3", "finetune.emotion.batch_size=3", "finetune.emotion.hidden=8",
    "finetune.words.epochs=3", "finetune.words.batch_size=3", "finetune.words.hidden=8",
    "finetune.affect.epochs=3", "finetune.affect.batch_size=3", "finetune.affect.hidden=8",
    "finetune.asr.epochs=4", "finetune.asr.average_last=3", "finetune.asr.max_frames=50",
    "finetune.asr.decoder_dim=16", "finetune.asr.decoder_heads=2", "finetune.asr.decoder_units=16",
    "finetune.asr.decoder_layers=1", "finetune.asr.vocab_size=20",
    "finetune.vsr.epochs=3", "finetune.vsr.average_last=2", "finetune.vsr.max_frames=50",
    "finetune.vsr.decoder_dim=16", "finetune.vsr.decoder_heads=2", "finetune.vsr.decoder_units=16",
    "finetune.vsr.decoder_layers=1", "finetune.vsr.vocab_size=20",
    "finetune.noise_augmentation.noise_types=[white]", "finetune.noise_augmentation.probability=0.5",
]  # fmt: skip


class TinyCorpus:
    """The ProcessedDataset interface (index rows with every task's labels, clips, annotations), random content
    fixed by ``seed``: 3 speakers x (train, val), word clips and sentence clips."""

    def __init__(self, seed: int = 0, face_hw: int = 16):
        rng = np.random.default_rng(seed)
        self.index: list[dict] = []
        self._clips: dict[str, dict] = {}
        self._ann: dict[str, dict] = {}
        i = 0
        for split, per_speaker in (("train", 4), ("val", 1)):
            for spk in range(3):
                for j in range(per_speaker):
                    t = int(rng.integers(10, 19))
                    words = [WORDS[int(w)] for w in rng.integers(0, len(WORDS), size=3)]
                    row = {"clip_id": f"c{i:03d}", "split": split, "n_frames": t, "speaker": f"s{spk}",
                           "emotion": EMOTIONS[(i + j) % 3], "word": WORDS[i % 4], "text": " ".join(words)}  # fmt: skip
                    self.index.append(row)
                    self._clips[row["clip_id"]] = {
                        "video": rng.integers(0, 256, size=(t, 96, 96), dtype=np.uint8),
                        "face": rng.integers(0, 256, size=(t, face_hw, face_hw), dtype=np.uint8),
                        "audio": (rng.standard_normal(t * 640) * 0.1).astype(np.float32),
                        "meta": dict(row),
                    }
                    self._ann[row["clip_id"]] = {
                        "arousal": np.tanh(rng.standard_normal(t)).astype(np.float32),
                        "valence": np.tanh(rng.standard_normal(t)).astype(np.float32),
                    }
                    i += 1

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self):
        return iter(self.index)

    def __contains__(self, clip_id) -> bool:
        return clip_id in self._clips

    def __getitem__(self, clip_id: str) -> dict:
        return self._clips[clip_id]

    def ids(self, split: str | None = None) -> list[str]:
        return [r["clip_id"] for r in self.index if split is None or r["split"] == split]

    def annotations(self, clip_id: str) -> dict:
        return self._ann[clip_id]


def tiny_params(extra=()):
    from avssl.config.load import load_params

    return load_params([ROOT / ".test" / "params.yaml"], [*OVERRIDES, *extra])


class Crash(BaseException):
    """Stands for SIGKILL in-process: nothing catches it, the stage dies where it is."""


def _deliver(sig: str, subprocess_mode: bool) -> None:
    if sig == "TERM":
        os.kill(os.getpid(), signal.SIGTERM)  # the loop's handler: checkpoint, then Preempted
    elif subprocess_mode:
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        raise Crash()


@contextlib.contextmanager
def kill_hook(kill: tuple | None, subprocess_mode: bool = False):
    """Patch the stage so ``kill = (when, step, signal)`` happens (see module docstring); None: no kill."""
    import avssl.tasks.finetune as finetune
    import avssl.training.checkpointing as checkpointing
    import avssl.training.pretrain as pretrain

    saved = (pretrain.build_objective, finetune.build_task_model, checkpointing.save_checkpoint)
    if kill is not None:
        when, at, sig = kill

        def wrap(build):
            def built(*a, **kw):
                obj = build(*a, **kw)
                original = obj.on_step_end

                def on_step_end(step, total):
                    out = original(step, total)
                    if when == "step" and step == at:
                        _deliver(sig, subprocess_mode)
                    return out

                obj.on_step_end = on_step_end
                return obj

            return built

        def save_checkpoint(directory, state):
            path = saved[2](directory, state)
            if when == "saved" and (state["step"] == at or (at == -1 and state["step"] == _total[0])):
                _deliver(sig, subprocess_mode)
            return path

        pretrain.build_objective = wrap(saved[0])
        finetune.build_task_model = wrap(saved[1])
        checkpointing.save_checkpoint = save_checkpoint
    try:
        yield
    finally:
        pretrain.build_objective, finetune.build_task_model, checkpointing.save_checkpoint = saved


_total = [None]  # total steps of the running stage (set by the loop patch below)


@contextlib.contextmanager
def _track_total():
    import avssl.training.loop as loop

    original = loop.total_steps

    def total_steps(cfg, sampler):
        _total[0] = original(cfg, sampler)
        return _total[0]

    loop.total_steps = total_steps
    try:
        yield
    finally:
        loop.total_steps = original


def run_stage(stage: str, out: Path, kill: tuple | None = None, subprocess_mode: bool = False, extra=()) -> dict:
    """Run ``stage`` into ``out`` (resuming from ``out/checkpoints`` when there is one); returns metrics."""
    import avssl.data.processed as processed
    import avssl.training.pretrain as pretrain
    from avssl.tasks.finetune import run_finetune

    params = tiny_params(extra)
    original = processed.ProcessedDataset
    processed.ProcessedDataset = lambda path: TinyCorpus()
    try:
        with kill_hook(kill, subprocess_mode), _track_total():
            kind, *rest = stage.split(":")
            if kind == "pretrain":
                return pretrain.run_pretrain(params, rest[0], "unused", out, progress=False)
            task, init, mode = rest
            return run_finetune(params, task, init, mode, 1.0, 0, "unused", out, progress=False)
    finally:
        processed.ProcessedDataset = original


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage")
    ap.add_argument("out")
    ap.add_argument("--kill", default=None, help="WHEN:STEP:SIGNAL, e.g. step:5:KILL or saved:-1:TERM")
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args(argv)
    from avssl.training.loop import Preempted

    kill = None
    if args.kill:
        when, step, sig = args.kill.split(":")
        kill = (when, int(step), sig)
    try:
        run_stage(args.stage, Path(args.out), kill, subprocess_mode=True, extra=args.set)
    except Preempted as exc:
        print(f"PREEMPTED {exc.step}", flush=True)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
