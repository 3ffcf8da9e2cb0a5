"""Configuration as pydantic models, layered: defaults < ``lusifer.toml`` < ``LUSIFER_*`` env < CLI flags.

Environment variables address any key: ``LUSIFER_<SECTION>__<KEY>`` (e.g. ``LUSIFER_BACKEND__MODEL``)
or ``LUSIFER_<KEY>`` for top-level keys (``LUSIFER_SEED``). Process switches such as
``LUSIFER_DEBUG`` or ``LUSIFER_DATA_DIR`` are not configuration keys and are skipped here.
Unknown keys are rejected everywhere, including plugin sections ``[plugins.<name>]``, which are
validated by the model the plugin registers through ``register_settings``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lusifer.api.errors import ConfigError
from lusifer.engine.validation import PROFILE_MIN_WORDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_CONFIG_FILE = "lusifer.toml"
ENV_PREFIX = "LUSIFER_"
#: ``LUSIFER_*`` variables that are process switches, not configuration keys.
PROCESS_VARIABLES = {
    "LOAD_PLUGINS",
    "DISABLE_PLUGINS",
    "TRACE_PLUGINS",
    "STRICT_PLUGINS",
    "DEBUG",
    "HOME",
    "DATA_DIR",
    "TEST_GGUF",  # the real-model tests' GGUF file (lusifer.testing.local_model)
    "REQUIRE_LOCAL_MODEL",
    "PROGRESS_INTERVAL",  # seconds between progress lines in logs (lusifer.runs.progress_lines)
}


class Section(BaseModel):
    """Base of every configuration section: unknown keys are errors, and so is a boolean for a number."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads ``users = true`` as 1; a number setting given true/false is a mistake.
        if isinstance(value, bool) and info.field_name is not None:
            annotation = str(cls.model_fields[info.field_name].annotation)
            if ("int" in annotation or "float" in annotation) and "bool" not in annotation:
                raise ValueError(f"expected a number, got {str(value).lower()}")
        return value


class DataConfig(Section):
    """Which data to load and how to cut it into histories and test items."""

    path: Path | None = Field(None, description="An already-unpacked official dataset folder (--data-dir).")
    enrich_file: Path | None = Field(None, description="CSV of extra item text keyed by item id.")
    fold: str | None = Field(None, description="Split to use (ML-100K: u1..u5, ua, ub; others: 1..5).")
    history: int = Field(40, ge=1, description="Last N training ratings per user for the profile phase.")
    profile_batch: int = Field(10, ge=1, description="History items per profile step.")
    context_items: int = Field(10, ge=0, description="Last k rated items shown when rating.")
    test_items: int | None = Field(10, ge=1, description="First k test rows per user (None: all).")
    require_text: bool = Field(False, description="Keep only test items that have rich text (overview).")
    #: The run's ``[plugins.*]`` sections, so that ``Domain.load`` can read its own settings.
    _plugin_sections: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    def plugin_settings(self, name: str) -> BaseModel:
        """The validated settings of plugin section ``name`` in the run's configuration (``--config``,
        ``LUSIFER_PLUGINS__*`` variables and flags included); defaults when the section is absent."""
        from lusifer.kernel.registry import settings_models

        return settings_models().get(name).model_validate(self._plugin_sections.get(name, {}))


class BackendConfig(Section):
    """Which LLM backend answers, and how the call layer treats it."""

    name: str = "offline"
    model: str | None = None
    base_url: str | None = None
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    seed: int | None = None
    max_tokens: int = Field(1024, ge=1)
    logprobs: bool = False
    timeout: float = Field(60.0, gt=0, description="Seconds per call.")
    max_retries: int = Field(5, ge=0)
    max_concurrency: int = Field(8, ge=1, description="Requests in flight at once.")
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    structured_output: Literal["auto", "json_schema", "json_object_schema", "json_object", "tools", "none"] = Field(
        "auto", description="'auto' negotiates the richest mode the server accepts; any other forces that mode."
    )


class CacheConfig(Section):
    """The content-addressed response cache."""

    enabled: bool = True
    refresh: bool = Field(False, description="Ignore cached answers but store the new ones.")
    path: Path | None = Field(None, description="SQLite file (default: <user dir>/cache.sqlite).")
    share_across_endpoints: bool = Field(
        False, description="Serve one server's cached answers for another (replicas of one model)."
    )


class RunConfig(Section):
    """What a run simulates and where it writes."""

    out: Path | None = None
    users: int | None = Field(None, ge=1, description="Simulate the first N users.")
    user_ids: list[str] | None = None
    concurrency: int = Field(8, ge=1, description="Users simulated at once.")
    rating_batch: int = Field(20, ge=1, description="Items rated per call.")
    validation_retries: int = Field(3, ge=0, description="Re-asks for items missing or invalid.")
    refresh_every: int = Field(10, ge=1, description="Online use: refresh the profile every m interactions.")
    budget_usd: float | None = Field(None, gt=0)
    calibrator: Path | None = None
    feedback_output: Literal["value", "distribution"] = Field(
        "value", description="'distribution': also keep a probability per scale point of each rating."
    )
    batch: bool = Field(False, description="Send requests through the vendor's batch API (half price, slower).")
    batch_poll: float = Field(30.0, gt=0, description="Seconds between two status requests of a batch.")
    shard: str | None = Field(
        None, pattern=r"^[1-9][0-9]*/[1-9][0-9]*$", description="'i/n': simulate only shard i of n (1 <= i <= n)."
    )

    @field_validator("shard")
    @classmethod
    def _shard_in_range(cls, shard: str | None) -> str | None:
        if shard is not None:
            index, count = (int(part) for part in shard.split("/"))
            if index > count:
                raise ValueError(f"shard {shard}: i must be between 1 and n")
        return shard


class ValidationConfig(Section):
    """How strictly answers are checked; a domain may ask for more (``Domain.profile_min_words``)."""

    profile_min_words: int = Field(
        PROFILE_MIN_WORDS, ge=0, description="Words a profile needs at least (the domain may require more)."
    )


class Price(Section):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class LusiferConfig(Section):
    """The whole configuration of a Lusifer run."""

    domain: str = "movies"
    dataset: str | None = Field(None, description="Dataset of the domain (default: the domain's first).")
    seed: int = 0
    prompts_dir: Path | None = None
    data: DataConfig = DataConfig()
    backend: BackendConfig = BackendConfig()
    cache: CacheConfig = CacheConfig()
    run: RunConfig = RunConfig()
    validation: ValidationConfig = ValidationConfig()
    prices: dict[str, Price] = {}
    plugins: dict[str, dict[str, Any]] = {}

    @field_validator("plugins")
    @classmethod
    def _validate_plugin_sections(cls, sections: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from lusifer.kernel.registry import settings_models

        models = settings_models()
        validated = {}
        for name, values in sections.items():
            model = models.get(name)  # NotFoundError lists the known sections
            try:
                validated[name] = model.model_validate(values).model_dump()
            except ValidationError as error:
                problems = "; ".join(
                    f"plugins.{name}.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
                    for item in error.errors()
                )
                raise ConfigError(f"invalid configuration: {problems}") from None
        return validated

    @model_validator(mode="after")
    def _share_plugin_sections(self) -> LusiferConfig:
        self.data._plugin_sections = self.plugins
        return self

    def with_defaults(self) -> LusiferConfig:
        """This configuration with the domain's default dataset filled in when none is named."""
        if self.dataset is not None:
            return self
        from lusifer.kernel.registry import get_domain

        datasets = get_domain(self.domain).datasets
        if not datasets:
            raise ConfigError(f"domain '{self.domain}' names no dataset: pass --dataset")
        return self.model_copy(update={"dataset": datasets[0]})

    def plugin_settings(self, name: str) -> BaseModel:
        """The validated settings of plugin section ``name`` (defaults when the section is absent)."""
        from lusifer.kernel.registry import settings_models

        return settings_models().get(name).model_validate(self.plugins.get(name, {}))


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file; a missing or malformed file is a ConfigError naming it."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {error.start}: {error.reason}); save it as UTF-8"
        ) from None


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Configuration keys from ``LUSIFER_*`` variables, as a nested dict of strings."""
    environ = dict(os.environ) if environ is None else environ
    result: dict[str, Any] = {}
    for variable, value in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        key = variable[len(ENV_PREFIX) :]
        if key in PROCESS_VARIABLES or not key:
            continue
        *sections, leaf = key.lower().split("__")
        target = result
        for section in sections:
            target = target.setdefault(section, {})
        target[leaf] = _parse_env_value(value)
    return result


def _parse_env_value(value: str) -> Any:
    if value.startswith(("[", "{")):
        import json

        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; nested dicts merge, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> LusiferConfig:
    """Build the configuration from all layers.

    :param config_file: explicit ``--config`` file; otherwise ``./lusifer.toml`` if it exists.
    :param overrides: values from CLI flags (highest priority), nested like the TOML file;
        ``None`` values are ignored so unset flags do not mask lower layers.
    :param environ: environment to read ``LUSIFER_*`` from (default: ``os.environ``).
    """
    layers: dict[str, Any] = {}
    if config_file is None and Path(DEFAULT_CONFIG_FILE).is_file():
        config_file = Path(DEFAULT_CONFIG_FILE)
    if config_file is not None:
        layers = read_toml(Path(config_file))
    from_env = env_overrides(environ)
    layers = deep_merge(layers, from_env)
    flags = _drop_none(overrides or {})
    layers = deep_merge(layers, flags)
    try:
        config = LusiferConfig.model_validate(layers)
    except ValidationError as error:
        raise ConfigError(_describe(error, config_file, from_env, flags)) from None
    return config.with_defaults()


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _drop_none(value)
            if value:
                cleaned[key] = value
        elif value is not None:
            cleaned[key] = value
    return cleaned


def _describe(
    error: ValidationError,
    config_file: Path | None,
    from_env: dict[str, Any] | None = None,
    flags: dict[str, Any] | None = None,
) -> str:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        problem = f"{location}: {item['msg']}"
        variable = _env_variable(item["loc"], from_env or {}, flags or {})
        if variable is not None:
            problem += f" (set by {variable}={_leaf(item['loc'], from_env or {})!r})"
        problems.append(problem)
    source = f" (from {config_file}, LUSIFER_* variables or flags)" if config_file else ""
    return f"invalid configuration{source}: " + "; ".join(problems)


def _leaf(location: tuple[Any, ...], layer: dict[str, Any]) -> Any:
    value: Any = layer
    for part in location:
        if not isinstance(value, dict) or str(part) not in value:
            return None
        value = value[str(part)]
    return value


def _env_variable(location: tuple[Any, ...], from_env: dict[str, Any], flags: dict[str, Any]) -> str | None:
    """The ``LUSIFER_*`` variable that set the value at ``location`` (unless a flag overrode it)."""
    parts = [str(part) for part in location]
    for length in range(len(parts), 0, -1):  # the value itself, or the section it belongs to (unknown keys)
        prefix = tuple(parts[:length])
        if _leaf(prefix, from_env) is not None and _leaf(prefix, flags) is None:
            if isinstance(_leaf(prefix, from_env), dict):
                return None
            return ENV_PREFIX + "__".join(part.upper() for part in prefix)
    return None
