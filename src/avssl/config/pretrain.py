"""The `pretrain` section: which self-supervised methods the DAG pre-trains (one job each).

The method names and descriptions come from the init registry (:mod:`avssl.registry.inits`).
"""

from typing import Literal

from pydantic import Field

from avssl.config.base import Section
from avssl.registry import inits

Method = Literal[inits.method_names()]


class PretrainParams(Section):
    methods: list[Method] = Field(
        default_factory=lambda: list(inits.method_names()),
        min_length=1,
        description="Pre-training methods to run: "
        + "; ".join(f"{i.name} ({i.description})" for i in inits.INITS if i.pretrained) + ".",
    )
