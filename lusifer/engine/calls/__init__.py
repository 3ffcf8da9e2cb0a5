"""The call layer: every LLM call goes through :class:`CallLayer` (cache, limits, retries, validation, cost)."""

from lusifer.engine.calls.layer import CallLayer, CallResult, CallSettings

__all__ = ["CallLayer", "CallResult", "CallSettings"]
