"""Sentence recognition (ASR/VSR): CTC + attention decoder over SentencePiece tokens, WER/CER of beam search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avssl.registry.tasks import Task
from avssl.tasks.kinds.base import TaskKind


class Recognition(TaskKind):
    """A tokenizer is fitted on the training texts first; batches are sized in frames (``max_frames``) and the
    last ``average_last`` epoch snapshots are averaged (RAVEn)."""

    def prepare(self, train_rows: list[dict], p: Any, output_dir: Path):
        from avssl.tasks.tokenizer import Tokenizer

        tokenizer = Tokenizer.train([r["text"] for r in train_rows], p.vocab_size)
        tokenizer.save(output_dir / "tokenizer.model")
        return tokenizer

    def targets(self, task: Task, classes, tokenizer, annotations):
        import numpy as np

        return lambda meta: {"tokens": np.asarray(tokenizer.encode(str(meta["text"])), dtype=np.int64)}

    def model_options(self, params: Any, classes, tokenizer) -> dict:
        from avssl.tasks.beam_search import BeamSearchConfig

        ev = params.evaluate
        return {"tokenizer": tokenizer, "decoding": BeamSearchConfig(beam_size=ev.beam_size, ctc_weight=ev.ctc_weight,
                                                                     length_bonus=ev.length_bonus)}  # fmt: skip

    def build(self, task: Task, encoder, feat_dim: int, p: Any, *, freeze_encoder: bool = False,
              noise_augment=None, tokenizer, decoding=None, **_):
        from avssl.tasks.speech_recognition import SpeechHeadConfig, SpeechRecognitionObjective

        return SpeechRecognitionObjective.from_config(encoder, task.modality, feat_dim, tokenizer,
                                                      SpeechHeadConfig.from_params(p), freeze_encoder=freeze_encoder,
                                                      decoding=decoding, noise_augment=noise_augment)  # fmt: skip

    def batch_frames(self, p: Any, typical_frames: int) -> int:
        return p.max_frames

    def snapshots(self, p: Any) -> int:
        return getattr(p, "average_last", 1)

    def predict(self, model, batch: dict, params: Any, classes) -> list[dict]:
        import torch

        refs = [model.tokenizer.decode([t for t in row.tolist() if t >= 0]) for row in batch["tokens"]]
        decoders = [("beam", {"mode": "beam"})]
        if params.evaluate.greedy_ctc:
            decoders.append(("greedy_ctc", {"mode": "greedy_ctc"}))
        rows = []
        with torch.no_grad():
            features = model.features(batch)  # encoded once, read by every decoder
        for name, kw in decoders:
            hyps = model.predict(batch, features=features, **kw)["text"]
            rows += [{"clip_id": c, "decoder": name, "reference": r, "prediction": h}
                     for c, r, h in zip(batch["clip_id"], refs, hyps)]  # fmt: skip
        return rows

    def score(self, rows: list[dict], task: Task, classes) -> dict[str, float]:
        from avssl.tasks import metrics as M

        beam = [r for r in rows if r["decoder"] == "beam"]
        m = {"wer": M.wer([r["prediction"] for r in beam], [r["reference"] for r in beam]),
             "cer": M.cer([r["prediction"] for r in beam], [r["reference"] for r in beam])}  # fmt: skip
        greedy = [r for r in rows if r["decoder"] == "greedy_ctc"]
        if greedy:
            m["wer_greedy_ctc"] = M.wer([r["prediction"] for r in greedy], [r["reference"] for r in greedy])
        return m

    def interval_metrics(self, task: Task) -> tuple[str, ...]:
        from avssl.tasks.uncertainty import RECOGNITION

        return tuple(RECOGNITION)
