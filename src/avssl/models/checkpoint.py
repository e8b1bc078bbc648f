"""Our encoder checkpoints: ``model.safetensors`` + ``config.json`` in one directory.

``model.safetensors`` holds ``<name>.<official key>`` (e.g. ``video.frontend.trunk.layer1.0.conv1.weight``),
so each encoder's slice is exactly an official-layout state dict. ``config.json`` records how to rebuild
each encoder: ``{"encoders": {name: {"arch": ..., "config": {...}}}, ...extra}`` (see models.registry).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def stable_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """safetensors metadata whose file bytes do not vary between processes: the format writes its metadata map
    in hash order (seeded per process), so several entries go into one sorted JSON string under ``avssl``."""
    return {"avssl": json.dumps(metadata, sort_keys=True)}


def encoder_state_dict(encoder: nn.Module) -> dict[str, torch.Tensor]:
    """Official-layout state dict (no prefix), detached, contiguous and on the CPU."""
    return {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}


def export_official(encoder: nn.Module, prefix: bool = False) -> dict[str, torch.Tensor]:
    """State dict in the official RAVEn layout; ``prefix=True`` adds ``encoder.`` as in fine-tuned models."""
    sd = encoder_state_dict(encoder)
    return {f"encoder.{k}": v for k, v in sd.items()} if prefix else sd


def save_encoders(out_dir: str | Path, encoders: dict[str, nn.Module], extra_config: dict[str, Any] | None = None
                  ) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/config.json``; returns ``out_dir``."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    for name, enc in encoders.items():
        if "." in name:
            raise ValueError(f"encoder name {name!r} must not contain '.'")
        for attr in ("arch", "config"):
            if not hasattr(enc, attr):
                raise TypeError(f"encoder {name!r} lacks .{attr} (needed to rebuild it)")
        tensors.update({f"{name}.{k}": v for k, v in encoder_state_dict(enc).items()})
        meta[name] = {"arch": enc.arch, "config": dict(enc.config)}
    extra = dict(extra_config or {})
    if "encoders" in extra:
        raise ValueError("extra_config must not contain 'encoders'")
    save_file(tensors, str(out / WEIGHTS), metadata={"format": "pt"})
    (out / CONFIG).write_text(json.dumps({"encoders": meta, **extra}, indent=2, sort_keys=True, default=str) + "\n")
    return out


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(config, flat tensors) of a checkpoint directory or its ``model.safetensors``."""
    from safetensors.torch import load_file

    p = Path(path)
    weights = p / WEIGHTS if p.is_dir() else p
    config_path = weights.parent / CONFIG
    if not weights.exists():
        raise FileNotFoundError(f"no {WEIGHTS} at {p}")
    if not config_path.exists():
        raise FileNotFoundError(f"{config_path} missing: cannot tell which encoders {weights} holds")
    return json.loads(config_path.read_text()), load_file(str(weights))
