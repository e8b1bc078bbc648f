"""Accumulate predictions over an evaluation set and compute the task's metric set.

Why accumulate rather than average per batch: accuracy/UAR, pooled CCC and corpus WER are not means of batch
values (UAR and CCC are non-linear, WER is weighted by reference length). Usage::

    acc = Scorer.for_task("emotion", tokenizer=None)
    for batch in loader:
        acc.update(batch, objective.predict(batch))
    metrics = acc.compute()   # {"accuracy": ..., "uar": ..., "n": ...}
"""

from __future__ import annotations

import numpy as np

from avssl.tasks import TASKS
from avssl.tasks import metrics as M


class Scorer:
    def __init__(self, kind: str, tokenizer=None, num_classes: int | None = None):
        self.kind, self.tokenizer, self.num_classes = kind, tokenizer, num_classes
        self.pred: list = []
        self.target: list = []

    @classmethod
    def for_task(cls, task: str, tokenizer=None, num_classes: int | None = None) -> "Scorer":
        return cls(TASKS[task].kind, tokenizer, num_classes)

    def update(self, batch: dict, prediction: dict) -> None:
        if self.kind == "classification":
            self.pred += prediction["pred"].cpu().tolist()
            self.target += batch["label"].cpu().tolist()
        elif self.kind == "regression":
            pred = prediction["pred"].detach().cpu().numpy()
            tgt = batch["affect"].detach().cpu().numpy()
            T = min(pred.shape[1], tgt.shape[1])
            pm = prediction.get("padding_mask")
            valid = np.ones(pred.shape[:2], bool) if pm is None else ~pm.cpu().numpy()
            for b in range(pred.shape[0]):
                v = valid[b, :T]
                self.pred.append(pred[b, :T][v])
                self.target.append(tgt[b, :T][v])
        else:
            if "text" in prediction:
                hyps = prediction["text"]
            else:
                hyps = [self.tokenizer.decode(h) for h in prediction["tokens"]]
            if "text" in batch:
                refs = list(batch["text"])
            else:
                refs = [self.tokenizer.decode([t for t in row.tolist() if t >= 0]) for row in batch["tokens"]]
            self.pred += hyps
            self.target += refs

    def compute(self) -> dict:
        n = len(self.pred)
        if self.kind == "classification":
            return {"accuracy": M.accuracy(self.pred, self.target),
                    "uar": M.uar(self.pred, self.target, self.num_classes), "n": n}
        if self.kind == "regression":
            p, t = np.concatenate(self.pred), np.concatenate(self.target)
            return {"ccc_arousal": M.ccc(p[:, 0], t[:, 0]), "ccc_valence": M.ccc(p[:, 1], t[:, 1]), "n": n}
        return {"wer": M.wer(self.pred, self.target), "cer": M.cer(self.pred, self.target), "n": n}

    def confusion(self) -> np.ndarray:
        return M.confusion_matrix(self.pred, self.target, self.num_classes)
