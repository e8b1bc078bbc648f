"""Dataset name -> adapter module. Adding a corpus = one module with ``NAME`` and ``index(root, params)``."""

from __future__ import annotations

from types import ModuleType

from avssl.data.datasets import crema_d, iemocap, lrs3, lrw, ravdess, speech_commands, voxceleb2

ADAPTERS: dict[str, ModuleType] = {m.NAME: m for m in (lrs3, lrw, voxceleb2, crema_d, ravdess, iemocap, speech_commands)}


def get_adapter(name: str) -> ModuleType:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(ADAPTERS))}") from None
