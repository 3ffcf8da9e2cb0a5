"""Creating the configured backend with its API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lusifer.kernel.registry import get_backend
from lusifer.keys import find_key, require_key

if TYPE_CHECKING:
    from pydantic import SecretStr

    from lusifer.api.backend import Backend
    from lusifer.api.settings import LusiferConfig


def create_backend(config: LusiferConfig, api_key: str | SecretStr | None = None) -> Backend:
    """The backend named by ``config.backend.name``, with its key (explicit > stored > environment).

    :raises NotFoundError: no backend has that name (the message lists the installed ones).
    :raises KeyMissingError: the backend needs a key and none was found; the OpenAI backend does not
        need one when ``base_url`` points at an OpenAI-compatible server such as vLLM or Ollama.
    """
    backend_class = get_backend(config.backend.name)
    key = None
    if backend_class.key_name:
        variables = backend_class.key_env_variables
        key = find_key(backend_class.key_name, api_key, variables)
        if key is None and backend_class.key_required(config.backend):
            require_key(backend_class.key_name, None, variables)  # raises, saying how to provide one
    return backend_class.from_config(config, key)
