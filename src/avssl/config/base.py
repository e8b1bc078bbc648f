"""Shared base class for every params section.

Every section forbids unknown keys so that a misspelt key in params.yaml is an error, not a silent
default. Field descriptions double as documentation: they end up in the JSON schema that Snakemake
validates against and in `avssl <stage> --help`.
"""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A params.yaml section: strict keys, validated on assignment, immutable after loading."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
