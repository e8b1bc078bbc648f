"""The `evaluate` stage: a fine-tuned model on the test split, clean and at every SNR and noise type.

One process evaluates every condition (the model loads once). Outputs in ``output_dir``: ``metrics.json``
(``{"conditions": {"clean": {...}, "babble_10": {...}}, ...}``), ``predictions.csv`` (clip_id, condition,
decoder, reference, prediction: every metric can be recomputed from it with :func:`recompute_metrics`),
``snr_curve.png`` and, for classification, ``confusion_matrix.png``. ``metrics.json`` also carries each metric's
95 % bootstrap interval over the test clips (``ci95_over_clips``, :mod:`avssl.tasks.uncertainty`; in MLflow as
``ci95_low/<metric>.<condition>`` and ``ci95_high/...``). Noise is deterministic given ``evaluate.noise_seed`` and
the clip id; babble comes from utterances of other test speakers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from avssl.tasks import TASKS
from avssl.tasks.kinds import kind_of
from avssl.tasks.setup import build_task_model, split_rows
from avssl.tasks.uncertainty import clip_bootstrap
from avssl.tracking.metric_keys import ci95_key, metric_key
from avssl.tracking.run import NullRun, write_json

FIELDS = ["clip_id", "condition", "decoder", "reference", "prediction"]


def conditions(params: Any, modality: str) -> list[tuple[str, str, Any]]:
    """(name, noise type, snr) for every test condition; video is only evaluated clean (noise is acoustic)."""
    out = [("clean", "none", "clean")]
    if modality != "audio":
        return out
    for noise in params.evaluate.noise_types:
        for snr in params.evaluate.snrs:
            if snr != "clean":
                out.append((f"{noise}_{float(snr):g}", noise, float(snr)))
    return out


class NoisySource:
    """A ProcessedDataset view whose audio carries one test condition's noise."""

    def __init__(self, ds, noise: str, snr, seed: int, pool, babble_k: int):
        self.ds, self.noise, self.snr, self.seed, self.pool, self.babble_k = ds, noise, snr, seed, pool, babble_k
        self.index = ds.index
        self._speaker = {r["clip_id"]: r.get("speaker") for r in ds.index}

    def __getitem__(self, clip_id: str) -> dict:
        from avssl.tasks.noise import add_noise

        item = dict(self.ds[clip_id])
        if self.snr != "clean":
            item["audio"] = add_noise(item["audio"], self.noise, self.snr, clip_id=clip_id, seed=self.seed,
                                      speaker=self._speaker[clip_id], pool=self.pool, babble_k=self.babble_k)
        return item


def babble_pool(ds, modality: str):
    """Babble from held-out utterances (validation + test speakers; each clip excludes its own speaker)."""
    from avssl.tasks.noise import BabblePool

    return BabblePool.from_processed(ds, ds.ids(split="val") + ds.ids(split="test")) if modality == "audio" else None


def load_task_model(params: Any, finetuned: Path):
    """Rebuild the fine-tuned task model from its folder (config.json + model.safetensors), eval mode."""
    from safetensors.torch import load_file

    from avssl.models import registry
    from avssl.tasks.tokenizer import Tokenizer

    config = json.loads((finetuned / "config.json").read_text())
    encoder = registry.build(config["encoder"]["arch"], **config["encoder"]["config"])
    tokenizer = Tokenizer(finetuned / config["tokenizer"]) if config.get("tokenizer") else None
    model = build_task_model(params, config["task"], encoder, classes=config.get("classes"), tokenizer=tokenizer,
                             freeze=config["mode"] == "frozen")  # fmt: skip
    model.load_state_dict(load_file(str(finetuned / "model.safetensors")), strict=True)
    return model.eval(), config, tokenizer


def _batches(ids: list[str], lengths: list[int], max_clips: int = 16):
    order = sorted(range(len(ids)), key=lambda i: (lengths[i], ids[i]))
    for start in range(0, len(order), max_clips):
        yield order[start : start + max_clips]


def predict_condition(model, task: str, source, ids: list[str], labels, params: Any) -> list[dict]:
    """Prediction rows (FIELDS) for ``ids`` under one condition."""
    import torch

    from avssl.data.batching import ClipDataset, collate

    spec = TASKS[task]
    data = ClipDataset(source, ids, train=False, modalities=(spec.modality,), labels=labels)
    classes = getattr(model, "_classes", None)
    kind = kind_of(task)
    rows: list[dict] = []
    for chunk in _batches(ids, data.lengths):
        batch = collate([data[i] for i in chunk])
        with torch.no_grad():
            rows += kind.predict(model, batch, params, classes)
    return rows


def recompute_metrics(rows: list[dict], task: str, classes: list[str] | None = None) -> dict[str, dict]:
    """Metrics per condition from prediction rows alone (what predictions.csv lets anyone re-check)."""
    kind, spec = kind_of(task), TASKS[task]
    out: dict[str, dict] = {}
    for cond in dict.fromkeys(r["condition"] for r in rows):
        sel = [r for r in rows if r["condition"] == cond]
        m = kind.score(sel, spec, classes)
        m["n"] = len({r["clip_id"] for r in sel})
        out[cond] = {k: float(v) for k, v in m.items()}
    return out


def read_predictions(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run_evaluate(params: Any, finetuned, processed_dir, output_dir, run=NullRun(), threads: int = 1,
                 features=None) -> dict:
    """``features``: the `features` stage's folder of the model's frozen encoder; the model's head then reads
    each condition's cached features instead of encoding noisy audio (avssl.tasks.features)."""
    import torch
    from avssl.progress import progress

    from avssl.data.processed import ProcessedDataset
    from avssl.tasks.setup import label_fn

    torch.set_num_threads(max(1, threads))
    finetuned, output_dir = Path(finetuned), Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model, config, tokenizer = load_task_model(params, finetuned)
    task = config["task"]
    spec = TASKS[task]
    classes = config.get("classes")
    model._classes = classes
    ds = ProcessedDataset(processed_dir)
    test_rows = split_rows(ds.index, task, "test")
    if classes is not None:
        test_rows = [r for r in test_rows if str(r[spec.label_columns[0]]) in classes]
    if not test_rows:
        raise ValueError(f"{processed_dir}: no test clips for task {task!r}")
    ids = [r["clip_id"] for r in test_rows]
    labels = label_fn(task, classes, tokenizer, ds.annotations)
    bank = None
    if features is not None:
        from avssl.tasks.features import FeatureBank

        if config["mode"] != "frozen":
            raise ValueError(f"--features: {finetuned} fine-tuned its encoder ({config['mode']}); cached features "
                             "stand for a frozen one")
        bank = FeatureBank(features, params)
    pool = None if bank is not None else babble_pool(ds, spec.modality)

    rows: list[dict] = []
    conds = conditions(params, spec.modality)
    for name, noise, snr in progress(conds, desc=f"evaluate {task}", unit="condition"):
        if bank is not None:  # the head reads this condition's features; the audio itself is not used
            model.use_features(bank.table(spec.modality, name))
            source = ds
        else:
            source = NoisySource(ds, noise, snr, params.evaluate.noise_seed, pool, params.evaluate.babble_speakers)
        rows += [{**r, "condition": name} for r in predict_condition(model, task, source, ids, labels, params)]
    if bank is not None:
        model.use_features(None)
    with open(output_dir / "predictions.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: r[k] for k in FIELDS} for r in rows)
    per_condition = recompute_metrics(rows, task, classes)
    intervals = clip_bootstrap(rows, task)
    metrics = {"task": task, "init": config["init"], "mode": config["mode"], "fraction": config["fraction"],
               "seed": config["seed"], "conditions": per_condition, "ci95_over_clips": intervals}  # fmt: skip
    write_json(output_dir / "metrics.json", metrics)
    run.log_metrics({metric_key(m, cond): v for cond, vals in per_condition.items() for m, v in vals.items()
                     if m != "n"})  # fmt: skip
    run.log_metrics({ci95_key(metric_key(m, cond), end): bound for cond, vals in intervals.items()
                     for m, ci in vals.items() for end, bound in zip(("low", "high"), ci)})  # fmt: skip
    run.set_tags({"finetune_run_id": config.get("mlflow_run_id"), "pretrain_run_id": config.get("pretrain_run_id")})

    from avssl.tasks.plots import plot_snr_curve

    plot_snr_curve(per_condition, spec.metrics[0], output_dir / "snr_curve.png", title=f"{task} {config['init']}")
    artifacts = [output_dir / "metrics.json", output_dir / "predictions.csv", output_dir / "snr_curve.png"]
    artifacts += kind_of(task).plots(rows, classes, output_dir, f"{task} {config['init']}")
    for path in artifacts:
        run.log_artifact(path)
    return metrics
