"""The `features` stage: a frozen pre-trained encoder's features, computed once for every task, fraction and seed.

Why: a frozen encoder's output for a clip in a noise condition does not depend on the task, the label fraction
or the seed, yet every frozen fine-tuning job encoded its training clips and every evaluation job its test
clips under each noise condition again. Here each (encoder, clip, condition) is encoded once.

Layout of the output folder: ``manifest.json`` (encoder, conditions, clips, noise settings, the checkpoint's
SHA-256) and ``<modality>/<condition>.safetensors`` = ``{clip_id: float32 (T, D)}``. Audio: every clip clean,
the test clips under every evaluation condition (the noise of :class:`avssl.tasks.evaluate.NoisySource`, the same
deterministic draw). Video: validation and test clips, clean (training video is randomly cropped and flipped,
so it is encoded in the job; video is only evaluated clean).

Each clip is encoded alone (:func:`avssl.models.encode.clip_features`), as the in-process cache of a frozen
audio encoder does, so a head trained on these features is bit-identical to one trained the old way. Evaluation
used to encode padded batches of up to 16 test clips, which shifts audio features near the end of a clip
(BatchNorm turns the zero padding into non-zero inputs of the 1-D ResNet): now training, validation and test
features of a clip are the same whatever its neighbours.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from avssl.tracking.run import NullRun, write_json

MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def noise_settings(params: Any) -> dict:
    """The evaluate params the noisy features depend on (a bank made with others must not be used)."""
    ev = params.evaluate
    return {"snrs": [str(s) for s in ev.snrs], "noise_types": list(ev.noise_types), "noise_seed": ev.noise_seed,
            "babble_speakers": ev.babble_speakers}  # fmt: skip


def _clip_sets(ds, modality: str) -> tuple[list[str], list[str]]:
    """(clips encoded clean, clips encoded under noise)."""
    test = ds.ids(split="test")
    if modality == "video":
        return ds.ids(split="val") + test, []
    return ds.ids(), test


def run_features(params: Any, init: str, pretrained, processed_dir, output_dir, run=NullRun(),
                 threads: int = 1) -> dict:
    """Encode ``processed_dir`` with every encoder of the checkpoint ``pretrained`` into ``output_dir``."""
    import torch
    from safetensors.torch import save_file

    from avssl.data.batching import ClipDataset, collate
    from avssl.data.processed import ProcessedDataset
    from avssl.models.checkpoint import CONFIG, WEIGHTS, stable_metadata
    from avssl.models.encode import clip_features
    from avssl.models.load import load_encoder
    from avssl.progress import progress
    from avssl.tasks.evaluate import NoisySource, babble_pool, conditions

    torch.set_num_threads(max(1, threads))  # one thread, as in the fine-tuning jobs: the same float sums
    pretrained, output_dir = Path(pretrained), Path(output_dir)
    config_path = pretrained / CONFIG
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} missing: --pretrained must be a pre-training output folder")
    modalities = [m for m in ("audio", "video") if m in json.loads(config_path.read_text()).get("encoders", {})]
    if not modalities:
        raise ValueError(f"{config_path}: the checkpoint holds no audio or video encoder")
    ds = ProcessedDataset(processed_dir)
    manifest: dict[str, Any] = {"init": init, "checkpoint_sha256": file_sha256(pretrained / WEIGHTS),
                                "noise": noise_settings(params), "modalities": {}}  # fmt: skip
    t0 = time.perf_counter()
    n_encoded = 0
    for modality in modalities:
        encoder = load_encoder(pretrained, modality=modality)  # eval mode, as a frozen encoder runs
        clean_ids, noisy_ids = _clip_sets(ds, modality)
        pool = babble_pool(ds, modality)
        entry: dict[str, Any] = {"arch": getattr(encoder, "arch", None), "conditions": {}}
        for name, noise, snr in conditions(params, modality):
            ids = clean_ids if snr == "clean" else noisy_ids
            if not ids:
                continue
            source = NoisySource(ds, noise, snr, params.evaluate.noise_seed, pool, params.evaluate.babble_speakers)
            data = ClipDataset(source, ids, train=False, modalities=(modality,))
            feats = {}
            for i in progress(range(len(ids)), desc=f"features {init} {modality} {name}", unit="clip"):
                batch = collate([data[i]])
                x = clip_features(encoder, batch[modality], int(batch["lengths"][0]), modality)
                feats[ids[i]] = x.float().cpu().contiguous()
            rel = f"{modality}/{name}.safetensors"
            (output_dir / modality).mkdir(parents=True, exist_ok=True)
            save_file(feats, str(output_dir / rel), metadata=stable_metadata({"init": init, "modality": modality,
                                                                                 "condition": name}))
            entry["dim"] = int(next(iter(feats.values())).shape[-1])
            entry["conditions"][name] = {"file": rel, "clips": len(feats)}
            n_encoded += len(feats)
        manifest["modalities"][modality] = entry
    seconds = time.perf_counter() - t0
    manifest.update(clips_encoded=n_encoded, seconds=seconds)
    write_json(output_dir / MANIFEST, manifest)  # last: a folder without it is incomplete
    run.log_metrics({"clips_encoded": n_encoded, "seconds": seconds})
    run.log_artifact(output_dir / MANIFEST)
    return manifest


class FeatureTable(dict):
    """{clip_id: (T, D) tensor} of one (modality, condition); a missing clip names the file to rebuild."""

    source = ""

    def __missing__(self, clip_id):
        raise KeyError(f"clip {clip_id!r} has no features in {self.source}: re-run the features stage "
                       "(`avssl features`) on this processed dataset")


class FeatureBank:
    """Reads a `features` output folder; checks it was made with the same evaluation noise as ``params``."""

    def __init__(self, directory, params: Any | None = None, checkpoint: Path | None = None):
        self.dir = Path(directory)
        path = self.dir / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing: run `avssl features` for this encoder first")
        self.manifest = json.loads(path.read_text())
        if params is not None and self.manifest.get("noise") != noise_settings(params):
            raise ValueError(f"{path}: features made with evaluate noise {self.manifest.get('noise')}, params say "
                             f"{noise_settings(params)}; re-run `avssl features`")
        if checkpoint is not None:
            from avssl.models.checkpoint import WEIGHTS

            sha = file_sha256(Path(checkpoint) / WEIGHTS)
            if self.manifest.get("checkpoint_sha256") != sha:
                raise ValueError(f"{path}: features of another checkpoint than {Path(checkpoint) / WEIGHTS}; "
                                 "re-run `avssl features`")

    def has(self, modality: str) -> bool:
        return modality in self.manifest.get("modalities", {})

    def table(self, modality: str, condition: str) -> FeatureTable:
        from safetensors.torch import load_file

        conds = self.manifest.get("modalities", {}).get(modality, {}).get("conditions", {})
        if condition not in conds:
            raise KeyError(f"{self.dir / MANIFEST}: no {modality} features for condition {condition!r} "
                           f"(has: {', '.join(conds) or 'none'}); re-run `avssl features`")
        path = self.dir / conds[condition]["file"]
        out = FeatureTable(load_file(str(path)))
        out.source = str(path)
        return out
