"""Shukla et al. (TAC 2021) models: raw-audio encoder, identity encoder, U-Net frame decoder, attribute head.

Importing this package registers the exported encoder as arch ``shukla_audio`` in
:mod:`avssl.models.registry`; its ``.config`` holds the builder kwargs that rebuild it.
"""

from avssl.models.registry import register
from avssl.models.shukla.attribute_head import AttributeHead
from avssl.models.shukla.audio_encoder import ShuklaAudioEncoder, WindowCNN
from avssl.models.shukla.frame_decoder import FrameDecoder
from avssl.models.shukla.identity_encoder import IdentityEncoder


@register("shukla_audio")
def build_shukla_audio(**config) -> ShuklaAudioEncoder:
    return ShuklaAudioEncoder(**config)


__all__ = [
    "AttributeHead",
    "FrameDecoder",
    "IdentityEncoder",
    "ShuklaAudioEncoder",
    "WindowCNN",
    "build_shukla_audio",
]
