"""The `pretrain` section: which self-supervised methods the DAG pre-trains (one job each)."""

from typing import Literal

from pydantic import Field

from avssl.config.base import Section

Method = Literal["raven", "shukla_visual", "shukla_audio", "shukla_multitask"]


class PretrainParams(Section):
    methods: list[Method] = Field(
        default_factory=lambda: ["raven", "shukla_visual", "shukla_audio", "shukla_multitask"],
        min_length=1,
        description="Pre-training methods to run: raven (RAVEn, audio+video), shukla_visual (face generation), "
        "shukla_audio (audio attributes), shukla_multitask (both).",
    )
