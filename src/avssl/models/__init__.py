"""Model architectures (RAVEn, Shukla) and their checkpoints. Importing this package stays cheap (no torch):
``load_encoder`` / ``save_encoders`` / ``export_official`` are resolved lazily."""

_LAZY = {
    "load_encoder": "avssl.models.load",
    "save_encoders": "avssl.models.checkpoint",
    "export_official": "avssl.models.checkpoint",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'avssl.models' has no attribute {name!r}")


__all__ = list(_LAZY)
