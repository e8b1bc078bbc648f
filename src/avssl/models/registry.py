"""Encoder architectures by name, so checkpoints can say what they contain.

A checkpoint is `<name>.safetensors` + `config.json`; the JSON records, per exported encoder, its `arch`
(a key of this registry) and the keyword arguments that rebuild it. Model packages register their
builders at import time; :func:`build` imports them on demand so the registry stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

_BUILDERS: dict[str, Callable[..., Any]] = {}

# arch name -> module that registers it (imported lazily by build()).
_PROVIDERS = {
    "raven_video": "avssl.models.raven",
    "raven_audio": "avssl.models.raven",
    "shukla_audio": "avssl.models.shukla",
    "logmel": "avssl.models.logmel",
    "nuisance": "avssl.models.nuisance",
}


def register(arch: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _BUILDERS[arch] = fn
        return fn

    return deco


def build(arch: str, **config: Any) -> Any:
    """Instantiate the encoder ``arch`` with ``config`` (the dict stored in config.json)."""
    if arch not in _BUILDERS and arch in _PROVIDERS:
        importlib.import_module(_PROVIDERS[arch])
    if arch not in _BUILDERS:
        known = sorted(set(_BUILDERS) | set(_PROVIDERS))
        raise KeyError(f"unknown encoder architecture {arch!r}; known: {', '.join(known)}")
    return _BUILDERS[arch](**config)
