"""A GGUF model answered in-process by llama-cpp-python.

- Model: ``--model PATH.gguf``, or a name looked up in ``[plugins.llamacpp] models_dir``
  (:func:`~lusifer_plugin_llamacpp.model_files.resolve_model`). The first instance loads when the
  backend is created, so a missing, unreadable or foreign file fails before a run starts, in one line.
- Chat template: the one stored in the GGUF, unless ``chat_format`` names one of llama-cpp-python's.
- Structured output: a grammar built from the request's JSON schema (``LlamaGrammar.from_json_schema``)
  constrains decoding in every mode but ``json_object`` (any JSON object) and ``none`` (free text). The
  whole schema, its ``pattern`` keywords included: a profile can only be plain text of enough words.
- Concurrency: ``instances`` model instances (default 1), each answering one request at a time in a
  worker thread, so the event loop stays free. The backend's ``concurrency_limit`` is ``instances``:
  the call layer queues the rest before their timeout starts, so waiting is not counted as slowness.
- Usage: token counts from the model's own tokenizer; cost 0; answers are cached like any backend's
  (keyed by the GGUF file name and the settings).
- Errors: a prompt longer than ``n_ctx`` is one line naming the setting; other llama.cpp failures are
  final :class:`~lusifer.api.errors.BackendError`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import queue
import re
from typing import TYPE_CHECKING, Any

from lusifer import Backend, BackendError, ConfigError, LLMRequest, LLMResponse, Price, Usage
from lusifer_plugin_llamacpp.model_files import default_models_dir, resolve_model
from lusifer_plugin_llamacpp.settings import SECTION, LlamaCppSettings

if TYPE_CHECKING:
    from pydantic import SecretStr

    from lusifer import BackendConfig, LusiferConfig

#: Modes answered with free text, or with any JSON object, instead of the request's schema.
UNCONSTRAINED = "none"
ANY_JSON = "json_object"
_CONTEXT_OVERFLOW = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


class LlamaCppBackend(Backend):
    """A local GGUF model run by llama-cpp-python, its JSON constrained by a grammar."""

    name = "llamacpp"
    description = "A local GGUF model run in-process by llama-cpp-python (--model PATH.gguf or NAME)."
    key_name = None
    default_model = ""
    remote = False  # in this process: concurrency_limit, not the serial test, keeps its queue short

    @classmethod
    def from_config(cls, config: LusiferConfig, api_key: SecretStr | None = None) -> Backend:
        return cls(config.backend, api_key, settings=config.plugin_settings(SECTION))

    def __init__(
        self, config: BackendConfig, api_key: SecretStr | None = None, *, settings: LlamaCppSettings | None = None
    ) -> None:
        super().__init__(config, api_key)
        self.settings = settings or LlamaCppSettings()
        self.path = resolve_model(config.model, self.settings.models_dir or default_models_dir())
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ConfigError("llamacpp: llama-cpp-python is not installed: pip install llama-cpp-python") from None
        self.model = self.path.name
        self.prices = {self.model: Price(input=0.0, output=0.0)}
        self.concurrency_limit = self.settings.instances
        self._idle: queue.Queue[Any] = queue.Queue()
        self._idle.put(self._load())
        for _ in range(self.settings.instances - 1):
            self._idle.put(None)  # loaded when first needed

    def _load(self) -> Any:
        from llama_cpp import Llama

        settings = self.settings
        try:
            return Llama(
                model_path=str(self.path),
                n_ctx=settings.n_ctx,
                n_threads=settings.n_threads,
                n_gpu_layers=settings.n_gpu_layers,
                chat_format=settings.chat_format,
                seed=self.config.seed if self.config.seed is not None else 0,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise ConfigError(f"llamacpp: cannot load {self.path}: {error}") from None

    async def acomplete(self, request: LLMRequest) -> LLMResponse:
        return await asyncio.to_thread(self._complete, request)

    def _complete(self, request: LLMRequest) -> LLMResponse:
        """Answer ``request`` on an idle instance (blocking; runs in a worker thread)."""
        instance = self._idle.get()
        try:
            if instance is None:
                instance = self._load()
            result = self._generate(instance, request)
        finally:
            self._idle.put(instance)
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return LLMResponse(
            text=choice["message"].get("content") or "",
            model=self.model,
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )

    def _generate(self, instance: Any, request: LLMRequest) -> dict[str, Any]:
        config = self.config
        try:
            return instance.create_chat_completion(
                messages=[{"role": message.role, "content": message.content} for message in request.messages],
                temperature=config.temperature,
                max_tokens=config.max_tokens,
                seed=config.seed,
                repeat_penalty=self.settings.repeat_penalty,
                grammar=self._grammar(request),
            )
        except ValueError as error:
            overflow = _CONTEXT_OVERFLOW.search(str(error))
            if overflow:
                raise BackendError(
                    f"llamacpp: the prompt has {overflow[1]} tokens but the context window (n_ctx) is "
                    f"{overflow[2]}: raise [plugins.llamacpp] n_ctx (LUSIFER_PLUGINS__LLAMACPP__N_CTX)"
                ) from None
            raise BackendError(f"llamacpp: {error}") from None

    def _grammar(self, request: LLMRequest) -> Any:
        mode = self.config.structured_output
        if mode == UNCONSTRAINED:
            return None
        if mode == ANY_JSON or request.schema is None:
            return _any_json_grammar()
        return _schema_grammar(json.dumps(dict(request.schema)))

    def __repr__(self) -> str:
        return f"<LlamaCppBackend model={self.model!r} instances={self.settings.instances}>"


@functools.lru_cache(maxsize=64)
def _schema_grammar(schema: str) -> Any:
    """The grammar of JSON documents following ``schema``, keys in its order (cached: profile requests share one)."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema, verbose=False)


@functools.cache
def _any_json_grammar() -> Any:
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
