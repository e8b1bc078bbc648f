"""Params: the pydantic model of params.yaml, loading with overlays and `--set`, friendly errors."""

from avssl.config.load import ParamsError, load_params, params_from_dict
from avssl.config.params import Params

__all__ = ["Params", "ParamsError", "load_params", "params_from_dict"]
