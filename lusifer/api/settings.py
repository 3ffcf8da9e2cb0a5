"""Configuration as pydantic models: every section of ``lusifer.toml`` and its defaults.

The models only describe and check values; :mod:`lusifer.config` layers the sources (defaults <
``lusifer.toml`` < ``LUSIFER_*`` env < CLI flags) and :mod:`lusifer.kernel.settings` adds what the
plugins register (their ``[plugins.<name>]`` sections, the domain's default dataset). Unknown keys are
rejected everywhere, plugin sections included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

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

#: Words a profile needs at least unless configured otherwise (the domain may require more).
PROFILE_MIN_WORDS = 5
#: Words a profile may have at most: the prompts ask for at most 120 words, and the schema bounds it.
PROFILE_MAX_WORDS = 120
_log = logging.getLogger(__name__)
#: Validation-context key under which the kernel passes the plugin sections' models.
PLUGIN_MODELS = "plugin_models"

#: Renamed keys, old -> new: the old names still work in every layer, with a one-line warning.
RENAMED_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("data", "profile_batch"): ("data", "profile_step_size"),
    ("run", "rating_batch"): ("run", "items_per_call"),
    ("run", "batch"): ("run", "vendor_batch"),
}


class SettingsModels(Protocol):
    """The registered ``[plugins.<name>]`` models (the kernel's settings registry)."""

    def get(self, name: str) -> type[BaseModel]:
        """The model of section ``name``; raises :class:`~lusifer.api.errors.NotFoundError` listing the known ones."""
        ...


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
    profile_step_size: int = Field(10, ge=1, description="History items folded into the profile per step.")
    context_items: int = Field(10, ge=0, description="Last k rated items shown when rating.")
    test_items: int | None = Field(10, ge=1, description="First k test rows per user (None: all).")
    require_text: bool = Field(False, description="Keep only test items that have rich text (overview).")
    #: The run's ``[plugins.*]`` sections and their models, so that ``Domain.load`` can read its own settings.
    _plugin_sections: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)
    _plugin_models: SettingsModels | None = PrivateAttr(default=None)

    def plugin_settings(self, name: str) -> BaseModel:
        """The validated settings of plugin section ``name`` in the run's configuration (``--config``,
        ``LUSIFER_PLUGINS__*`` variables and flags included); defaults when the section is absent."""
        return _plugin_model(self._plugin_models, name).model_validate(self._plugin_sections.get(name, {}))


class BackendConfig(Section):
    """Which LLM backend answers, and how the call layer treats it."""

    name: str = "offline"
    model: str | None = None
    base_url: str | None = None
    base_urls: list[str] | None = Field(
        None,
        min_length=1,
        description="Replicas of one model (e.g. one server per node): Ray worker i calls base_urls[i % n].",
    )
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
    http_transport: Literal["auto", "httpx", "aiohttp"] = Field(
        "auto",
        description="The vendor SDK's HTTP transport: 'aiohttp' (the SDK's aiohttp client: less CPU per call), "
        "'httpx' (pooled httpx connections), or 'auto': aiohttp where it is installed and the base URL carries "
        "no credentials, else httpx.",
    )
    api: Literal["chat", "responses"] = Field(
        "chat",
        description="OpenAI: 'responses' sends single calls through the Responses API (json_schema output; "
        "batch mode keeps Chat Completions).",
    )

    @model_validator(mode="after")
    def _first_replica_by_default(self) -> BackendConfig:
        if self.base_urls and self.base_url is None:
            self.base_url = self.base_urls[0]  # what a single process (and the driver's checks) talks to
        return self


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
    items_per_call: int = Field(20, ge=1, description="Items rated per feedback call.")
    validation_retries: int = Field(3, ge=0, description="Re-asks for items missing or invalid.")
    refresh_every: int = Field(10, ge=1, description="Online use: refresh the profile every m interactions.")
    budget_usd: float | None = Field(None, gt=0)
    calibrator: Path | None = None
    feedback_output: Literal["value", "distribution"] = Field(
        "value", description="'distribution': also keep a probability per scale point of each rating."
    )
    vendor_batch: bool = Field(False, description="Send requests through the vendor's batch API (half price, slower).")
    batch_poll: float = Field(30.0, gt=0, description="Seconds between two status requests of a batch.")
    shard: str | None = Field(
        None, pattern=r"^[1-9][0-9]*/[1-9][0-9]*$", description="'i/n': simulate only shard i of n (1 <= i <= n)."
    )
    executor: Literal["local", "ray"] = Field(
        "local", description="'ray': simulate the users on Ray workers (the lusifer[ray] extra), one store."
    )
    workers: int | None = Field(None, ge=1, description="Ray workers (default: the cluster's CPUs).")
    ray_address: str | None = Field(None, description="Ray cluster to join (default: a local one is started).")

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

    #: The models of the ``[plugins.*]`` sections (the kernel passes them when it loads a configuration).
    _plugin_models: SettingsModels | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _upgrade_renamed_keys(cls, data: Any) -> Any:
        return renamed_keys_upgraded(data, "configuration") if isinstance(data, dict) else data

    @field_validator("plugins")
    @classmethod
    def _validate_plugin_sections(
        cls, sections: dict[str, dict[str, Any]], info: ValidationInfo
    ) -> dict[str, dict[str, Any]]:
        models: SettingsModels | None = (info.context or {}).get(PLUGIN_MODELS)
        if models is None:  # validated later by whoever knows the models (lusifer.kernel.settings)
            return sections
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
    def _share_plugin_sections(self, info: ValidationInfo) -> LusiferConfig:
        models: SettingsModels | None = (info.context or {}).get(PLUGIN_MODELS)
        if models is not None:
            self._plugin_models = models
        self.data._plugin_sections = self.plugins
        self.data._plugin_models = self._plugin_models
        return self

    def plugin_settings(self, name: str) -> BaseModel:
        """The validated settings of plugin section ``name`` (defaults when the section is absent)."""
        return _plugin_model(self._plugin_models, name).model_validate(self.plugins.get(name, {}))


_default_plugin_models: Callable[[], SettingsModels] | None = None


def provide_plugin_models(source: Callable[[], SettingsModels]) -> None:
    """Where :meth:`LusiferConfig.plugin_settings` finds the section models of a configuration that was
    built without them (e.g. ``DataConfig()`` in a test); the kernel registers its registry here."""
    global _default_plugin_models
    _default_plugin_models = source


def _plugin_model(models: SettingsModels | None, name: str) -> type[BaseModel]:
    if models is None and _default_plugin_models is not None:
        models = _default_plugin_models()
    if models is None:
        raise ConfigError(
            f"the settings of plugin section '{name}' are unknown here: load the configuration with"
            " lusifer.kernel.settings.load_config (or pass it through lusifer.runs.open_session)"
        )
    return models.get(name)


def renamed_keys_upgraded(layer: dict[str, Any], source: str, env_prefix: str | None = None) -> dict[str, Any]:
    """``layer`` with the old names of :data:`RENAMED_KEYS` replaced by the new ones (a warning each).

    :param source: where the layer comes from, for the warning (a file name, ``environment``).
    :param env_prefix: names keys as ``LUSIFER_*`` variables in the warning.
    :raises ConfigError: the layer sets a key under both names.
    """

    def name(section: str, key: str) -> str:
        return f"{env_prefix}{section.upper()}__{key.upper()}" if env_prefix else f"{section}.{key}"

    for (section, old), (_, new) in RENAMED_KEYS.items():
        values = layer.get(section)
        if not isinstance(values, dict) or old not in values:
            continue
        if new in values:
            both = f"{name(section, old)} and {name(section, new)}"
            raise ConfigError(f"{source}: {both} are one setting: keep only {name(section, new)}")
        _log.warning("%s: %s is deprecated, use %s", source, name(section, old), name(section, new))
        values = {(new if key == old else key): value for key, value in values.items()}
        layer = {**layer, section: values}
    return layer
