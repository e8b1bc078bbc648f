"""``load_encoder(path)``: one entry point for our checkpoints and the official RAVEn ``.pth`` files.

Accepted: a directory written by :func:`avssl.models.checkpoint.save_encoders` (or its model.safetensors),
or an official state dict (encoder-only, or a whole fine-tuned / pre-training model; keys with or without
a leading ``encoder.``). Official files are read with ``torch.load(weights_only=True)``; the modality and
dims are inferred from key names and shapes. The returned module is in eval mode.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from avssl.models.checkpoint import export_official, read_checkpoint  # noqa: F401  (re-exported)

_MARKERS = {"video": "frontend.frontend3D.0.weight", "audio": "frontend.trunk.conv1.weight"}


def load_encoder(path: str | Path, modality: str | None = None, device: str | torch.device = "cpu") -> nn.Module:
    p = Path(path)
    if p.is_dir() or p.suffix == ".safetensors":
        enc = _load_ours(p, modality)
    else:
        enc = _load_official(p, modality)
    return enc.to(device).eval()


def _load_ours(path: Path, modality: str | None) -> nn.Module:
    from avssl.models import registry

    config, tensors = read_checkpoint(path)
    encoders = config.get("encoders", {})
    if not encoders:
        raise ValueError(f"{path}: config.json lists no encoders")
    if modality is None:
        if len(encoders) > 1:
            raise ValueError(f"{path} holds several encoders ({', '.join(sorted(encoders))}); "
                             "pass modality=<one of them>")
        modality = next(iter(encoders))
    if modality not in encoders:
        raise KeyError(f"{path} has no encoder {modality!r}; available: {', '.join(sorted(encoders))}")
    entry = encoders[modality]
    enc = registry.build(entry["arch"], **entry["config"])
    prefix = modality + "."
    enc.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    return enc


def _unwrap(obj: Any) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "model_state_dict"):  # common wrappers (e.g. Lightning)
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError("not a state dict of tensors")
    return obj


def split_official(state: dict[str, torch.Tensor], modality: str | None = None
                   ) -> tuple[str, dict[str, torch.Tensor]]:
    """Find the encoder inside an official state dict: returns (modality, un-prefixed encoder state dict)."""
    found: dict[str, tuple[str, str]] = {}  # prefix -> (modality, marker)
    for key in state:
        for mod, marker in _MARKERS.items():
            if key.endswith(marker):
                found[key[: -len(marker)]] = (mod, marker)
    # Skip EMA teachers of pre-training checkpoints when a student is present.
    students = {pre: v for pre, v in found.items() if "target" not in pre}
    found = students or found
    if modality is not None:
        found = {pre: v for pre, v in found.items() if v[0] == modality}
    if not found:
        what = f"a {modality} encoder" if modality else "a RAVEn encoder"
        raise ValueError(f"found no {what} (expected keys ending in {' or '.join(_MARKERS.values())})")
    if len(found) > 1:
        listing = ", ".join(f"{pre or '<root>'} ({mod})" for pre, (mod, _) in sorted(found.items()))
        raise ValueError(f"several encoders in this state dict: {listing}; pass modality=")
    prefix, (mod, _) = next(iter(found.items()))
    return mod, {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)
                 and not k[len(prefix):].startswith(("decoder.", "ctc."))}


def infer_config(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Builder kwargs from an official-layout encoder state dict (drop_path from the size; irrelevant in eval)."""
    layers = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"encoders\.(\d+)\.", k)))
    adim, frontend_out = sd["embed.0.weight"].shape
    heads = sd["encoders.0.self_attn.pos_bias_u"].shape[0]
    ffn = sd["encoders.0.feed_forward.w_1.weight"].shape[0]
    return dict(layers=layers, adim=int(adim), heads=int(heads), ffn=int(ffn),
                drop_path=0.1 if (layers, adim) == (24, 1024) else 0.0, frontend_width=int(frontend_out) // 8,
                layerscale=0.1 if "encoders.0.gamma_mha" in sd else None)


def _load_official(path: Path, modality: str | None) -> nn.Module:
    from avssl.models.raven import build_encoder

    state = _unwrap(torch.load(path, map_location="cpu", weights_only=True))
    mod, sd = split_official(state, modality)
    enc = build_encoder(mod, None, **infer_config(sd))
    enc.load_state_dict(sd, strict=True)
    return enc
