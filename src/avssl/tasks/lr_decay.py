"""Layer-wise learning-rate decay for fine-tuning a pre-trained encoder.

Why: lower layers of a self-supervised encoder hold generic features that should move little; upper layers
and the freshly initialised heads need larger steps. Block i of N gets ``lr * decay**(N-1-i)``; everything
before the blocks (frontend, embed) gets ``lr * decay**(N-1)`` (same as block 0); the final norm after the
blocks gets ``lr``. Encoders without an ``encoders`` ModuleList (e.g. the Shukla CNN+GRU) get ``lr`` for all.
"""

from __future__ import annotations

from torch import nn


def layerwise_groups(encoder: nn.Module, lr: float, decay: float, weight_decay: float,
                     blocks_attr: str = "encoders", prefix: str = "encoder") -> list[dict]:
    """Torch param-group dicts (``name``, ``params``, ``lr``, ``weight_decay``), one per distinct lr bucket."""
    blocks = getattr(encoder, blocks_attr, None)
    n = len(blocks) if isinstance(blocks, nn.ModuleList) else 0
    buckets: dict[str, list] = {}
    lrs: dict[str, float] = {}
    for name, p in encoder.named_parameters():
        if not p.requires_grad:
            continue
        parts = name.split(".")
        if n and parts[0] == blocks_attr and parts[1].isdigit():
            i = int(parts[1])
            key, scale = f"{prefix}.block{i:02d}", decay ** (n - 1 - i)
        elif n and parts[0] not in ("after_norm",):
            key, scale = f"{prefix}.stem", decay ** (n - 1)
        else:
            key, scale = f"{prefix}.top", 1.0
        buckets.setdefault(key, []).append(p)
        lrs[key] = lr * scale
    return [{"name": k, "params": v, "lr": lrs[k], "weight_decay": weight_decay} for k, v in sorted(buckets.items())]
