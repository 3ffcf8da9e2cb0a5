"""The built-in LLM backends (openai, anthropic, offline) and what they share; the contract is
:mod:`lusifer.api.backend`."""
