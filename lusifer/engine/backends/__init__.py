"""LLM backends: the built-in openai, anthropic and offline backends, and their shared contract."""
