"""avssl: audio-visual self-supervised speech representation learning (Shukla et al. 2021, RAVEn 2023).

Public API (imported lazily so `import avssl` stays cheap):
- ``avssl.load_encoder(path, modality=None)``: our checkpoints or official RAVEn ``.pth`` -> nn.Module (eval).
- ``avssl.data.ProcessedDataset(path)``: training shards written by ``avssl preprocess``.
"""

__version__ = "0.1.0"


def load_encoder(path, modality=None, **kwargs):
    """Load a pre-trained encoder (see :func:`avssl.models.load.load_encoder`)."""
    from avssl.models.load import load_encoder as _load

    return _load(path, modality=modality, **kwargs)


__all__ = ["__version__", "load_encoder"]
