"""RAVEn (Haliassos et al., ICLR 2023) encoders and predictors with the official checkpoint layout.

Registered architectures: ``raven_video`` and ``raven_audio`` (see :mod:`avssl.models.registry`).
"""

from __future__ import annotations

from typing import Any

from avssl.models.raven.encoder import SIZES, EncoderConfig, RavenEncoder, build_encoder, resolve_config
from avssl.models.raven.predictor import Predictor, PredictorConfig
from avssl.models.registry import register


@register("raven_video")
def raven_video(size: str | None = None, **config: Any) -> RavenEncoder:
    """Video encoder; `size` 'base'/'large' preset, explicit kwargs override (config.json stores all kwargs)."""
    return build_encoder("video", size, **config)


@register("raven_audio")
def raven_audio(size: str | None = None, **config: Any) -> RavenEncoder:
    """Audio encoder; see :func:`raven_video`."""
    return build_encoder("audio", size, **config)


__all__ = [
    "SIZES", "EncoderConfig", "Predictor", "PredictorConfig", "RavenEncoder", "build_encoder", "raven_audio",
    "raven_video", "resolve_config",
]  # fmt: skip
