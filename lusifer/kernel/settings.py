"""Loading a run's configuration with what the plugins register.

:func:`lusifer.config.load_config` layers the sources; here the ``[plugins.<name>]`` sections are checked
against the models plugins register (``register_settings``) and the domain's first dataset fills in a
missing ``dataset``. Everything that loads a configuration for a run calls :func:`load_config` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lusifer.api.errors import ConfigError
from lusifer.api.settings import PLUGIN_MODELS, LusiferConfig
from lusifer.config import load_config as load_layers
from lusifer.kernel.registry import get_domain, settings_models


def load_config(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> LusiferConfig:
    """The configuration from all layers (see :func:`lusifer.config.load_config`), plugin sections checked
    by their registered models and the domain's default dataset filled in."""
    config = load_layers(config_file, overrides, environ, plugin_models=settings_models())
    return with_default_dataset(config)


def validate_config(values: dict[str, Any]) -> LusiferConfig:
    """A configuration from plain values (e.g. a stored snapshot with overrides), checked like :func:`load_config`."""
    try:
        config = LusiferConfig.model_validate(values, context={PLUGIN_MODELS: settings_models()})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
    return with_default_dataset(config)


def with_default_dataset(config: LusiferConfig) -> LusiferConfig:
    """``config`` with the domain's default dataset filled in when none is named."""
    if config.dataset is not None:
        return config
    datasets = get_domain(config.domain).datasets
    if not datasets:
        raise ConfigError(f"domain '{config.domain}' names no dataset: pass --dataset")
    return config.model_copy(update={"dataset": datasets[0]})
