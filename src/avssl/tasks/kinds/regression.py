"""Continuous affect: per-frame arousal/valence regression (CCC loss), CCC per dimension over test frames."""

from __future__ import annotations

from typing import Any

from avssl.registry.tasks import Task
from avssl.tasks.kinds.base import TaskKind, head_options, records


class Regression(TaskKind):
    """Every clip is a sample (its arrays come from the annotations); targets (T, 2) float per frame."""

    def rows(self, rows, task: Task) -> list[dict]:
        return list(records(rows))

    def targets(self, task: Task, classes, tokenizer, annotations):
        import numpy as np

        def affect(meta):
            arrays = annotations(meta["clip_id"])
            n = int(meta["n_frames"])
            return {"affect": np.stack([arrays["arousal"][:n], arrays["valence"][:n]], -1).astype("float32")}

        return affect

    def build(self, task: Task, encoder, feat_dim: int, p: Any, *, freeze_encoder: bool = False,
              noise_augment=None, **_):
        from avssl.tasks.affect import AffectObjective

        return AffectObjective(encoder, task.modality, feat_dim, freeze_encoder=freeze_encoder,
                               noise_augment=noise_augment, **head_options(p))

    def predict(self, model, batch: dict, params: Any, classes) -> list[dict]:
        out = model.predict(batch)
        pred, tgt = out["pred"].numpy(), batch["affect"].numpy()
        rows = []
        for b, clip in enumerate(batch["clip_id"]):
            n = int(batch["lengths"][b])
            for t in range(min(n, pred.shape[1], tgt.shape[1])):
                rows.append({"clip_id": clip, "decoder": f"frame{t}",
                             "reference": f"{tgt[b, t, 0]:.5f} {tgt[b, t, 1]:.5f}",
                             "prediction": f"{pred[b, t, 0]:.5f} {pred[b, t, 1]:.5f}"})  # fmt: skip
        return rows

    def score(self, rows: list[dict], task: Task, classes) -> dict[str, float]:
        import numpy as np

        from avssl.tasks import metrics as M

        ref = np.array([[float(x) for x in r["reference"].split()] for r in rows])
        pred = np.array([[float(x) for x in r["prediction"].split()] for r in rows])
        return {"ccc_arousal": float(M.ccc(pred[:, 0], ref[:, 0])), "ccc_valence": float(M.ccc(pred[:, 1], ref[:, 1]))}

    def interval_metrics(self, task: Task) -> tuple[str, ...]:
        from avssl.tasks.uncertainty import REGRESSION

        return REGRESSION
