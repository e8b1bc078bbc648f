"""Encode a processed dataset with a pre-trained encoder: one (T, D) float32 array per clip, 25 Hz.

Video clips are batched with padding, which is exact: padded frames are zeros, exactly what the 3-D stem
pads with, the 2-D trunk is per frame, attention ignores padded keys and BatchNorm uses running statistics.
Audio is not: the 1-D ResNet would see BatchNorm-shifted padding near the end of a clip, so audio clips are
only batched with clips of the same frame count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from avssl.media import SAMPLES_PER_FRAME, VIDEO_MEAN, VIDEO_STD
from avssl.media import TRAIN_CROP as CROP


def video_to_input(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, 96, 96) mouth crops -> float (T, 88, 88): centre crop, ``(x/255 - 0.421) / 0.165``."""
    x = torch.as_tensor(np.asarray(frames), dtype=torch.float32)
    H, W = x.shape[-2:]
    top, left = (H - CROP) // 2, (W - CROP) // 2
    x = x[..., top: top + CROP, left: left + CROP]
    return (x / 255.0 - VIDEO_MEAN) / VIDEO_STD


def clip_features(encoder: torch.nn.Module, x: torch.Tensor, n_frames: int, modality: str) -> torch.Tensor:
    """(T, D) features of ONE clip encoded alone: ``x`` is a batch of one, cut to its ``n_frames`` (no padding).

    Why alone: audio features then do not depend on which clips share a batch (see the module docstring), so
    the in-process cache of a frozen encoder (tasks/base.py) and the `features` stage (tasks/features.py) give
    the same numbers in any order."""
    hop = 640 if modality == "audio" else 1
    with torch.no_grad():
        return encoder(x[:1, : n_frames * hop])[0].detach()


def _collate(items: list[torch.Tensor], modality: str) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    hop = SAMPLES_PER_FRAME if modality == "audio" else 1
    frames = [int(x.shape[0]) // hop for x in items]
    T = max(frames)
    batch = items[0].new_zeros((len(items), T * hop, *items[0].shape[1:]))
    for i, (x, n) in enumerate(zip(items, frames)):
        batch[i, : n * hop] = x[: n * hop]
    pad = torch.arange(T)[None, :] >= torch.tensor(frames)[:, None]
    return batch, pad, frames


def checkpoint_modality(checkpoint: str | Path) -> str | None:
    """The modality of the one encoder our checkpoint holds (config.json's ``encoders``); None for an official
    .pth file, whose loader finds its only encoder from the key names (and names them when there are several).

    Raises ValueError naming the encoders when there are several, so the caller can ask for one.
    """
    p = Path(checkpoint)
    if p.is_dir() or p.suffix == ".safetensors":
        import json

        from avssl.models.checkpoint import CONFIG

        config = (p if p.is_dir() else p.parent) / CONFIG
        if not config.is_file():
            raise FileNotFoundError(f"{config} missing: cannot tell which encoders {p} holds")
        names = sorted(json.loads(config.read_text()).get("encoders", {}))
        if len(names) != 1:
            raise ValueError(f"{p} holds {len(names)} encoders ({', '.join(names) or 'none'}); choose one "
                             "with modality (CLI: --modality)")
        return names[0]
    return None


@torch.no_grad()
def encode_dataset(checkpoint: str | Path, processed_dir: Any, output_path: str | Path, modality: str | None = None,
                   batch_size: int = 8, device: str = "cpu", ids: list[str] | None = None) -> Path:
    """Write ``{clip_id: float32 (T, D)}`` to ``output_path`` (``.npz`` or ``.safetensors``); returns it.

    ``processed_dir`` is a ProcessedDataset directory (or any object with ``ids()`` and ``[clip_id]``).
    ``modality=None`` takes the checkpoint's only encoder (an error names the choices when it holds several).
    """
    from avssl.progress import progress

    from avssl.models.load import load_encoder

    if modality not in ("video", "audio", None):
        raise ValueError(f"modality must be 'video' or 'audio', got {modality!r}")
    if isinstance(processed_dir, (str, Path)):
        from avssl.data.processed import ProcessedDataset

        ds = ProcessedDataset(processed_dir)
    else:
        ds = processed_dir
    encoder = load_encoder(checkpoint, modality=modality or checkpoint_modality(checkpoint), device=device)
    modality = modality or checkpoint_modality(checkpoint) or encoder.modality
    clip_ids = list(ids if ids is not None else ds.ids())
    features: dict[str, np.ndarray] = {}
    for start in progress(range(0, len(clip_ids), batch_size), desc=f"encode {modality}", unit="batch"):
        chunk = clip_ids[start: start + batch_size]
        items = []
        for cid in chunk:
            sample = ds[cid]
            if modality == "video":
                items.append(video_to_input(sample["video"]))
            else:
                items.append(torch.as_tensor(np.asarray(sample["audio"]), dtype=torch.float32))
        groups: dict[int, list[int]] = {}
        for i, x in enumerate(items):
            groups.setdefault(0 if modality == "video" else int(x.shape[0]) // SAMPLES_PER_FRAME, []).append(i)
        for members in groups.values():
            x, pad, frames = _collate([items[i] for i in members], modality)
            out = encoder(x.to(device), pad.to(device)).float().cpu()
            for j, i in enumerate(members):
                features[chunk[i]] = out[j, : frames[j]].numpy().copy()
    out_path = Path(output_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        from avssl.models.checkpoint import stable_metadata

        save_file(features, str(out_path), metadata=stable_metadata({"modality": modality,
                                                                     "checkpoint": str(checkpoint)}))
    else:
        if out_path.suffix != ".npz":
            raise ValueError(f"output must end in .npz or .safetensors, got {out_path.name}")
        np.savez(out_path, **features)
    return out_path
