"""Gymnasium environments: an RL agent recommends, LLM-simulated users give feedback.

Importing this package registers one id per installed domain, ``lusifer/<EnvName>-v0``
(``lusifer/MovieLens-v0`` for the movies domain), so either of these works::

    import lusifer.envs, gymnasium
    env = gymnasium.make("lusifer/MovieLens-v0", backend="offline")
    env = gymnasium.make("lusifer.envs:lusifer/MovieLens-v0", backend="offline")  # no import needed

Registration is light: it lists the installed domains (no pandas, no data loading).
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lusifer.api.domain import Domain

#: Environment names of domains that do not derive theirs from the domain name.
ENV_NAMES = {"movies": "MovieLens"}
ENTRY_POINT = "lusifer.envs.recommender:RecommenderEnv"
VECTOR_ENTRY_POINT = "lusifer.envs.vector:RecommenderVectorEnv"
#: The environments' default ``max_steps``, also the ids' ``max_episode_steps`` (pass ``max_episode_steps``
#: to ``gymnasium.make`` as well when you change ``max_steps``).
DEFAULT_MAX_STEPS = 20


def env_id(domain: Domain) -> str:
    """``lusifer/<EnvName>-v0`` of a domain: its ``env_name`` attribute, else ``ENV_NAMES``, else its
    titled name (``news`` -> ``lusifer/News-v0``)."""
    env_name = getattr(domain, "env_name", None) or ENV_NAMES.get(domain.name) or domain.name.title()
    return f"lusifer/{re.sub(r'[^0-9A-Za-z_.]', '', env_name)}-v0"


def register_envs() -> list[str]:
    """Register (once) a Gymnasium id per installed domain; returns the ids."""
    from gymnasium.envs.registration import register, registry

    from lusifer.kernel.registry import domains

    ids = []
    for entry in domains().entries():
        identifier = env_id(entry.obj)
        owner = registry[identifier].kwargs.get("domain") if identifier in registry else entry.name
        if owner != entry.name:
            warnings.warn(
                f"domain '{entry.name}' gets no Gymnasium id: domain '{owner}' already has {identifier}; "
                "give one of them another env_name",
                stacklevel=2,
            )
            continue
        if identifier not in registry:
            register(
                id=identifier,
                entry_point=ENTRY_POINT,
                vector_entry_point=VECTOR_ENTRY_POINT,
                kwargs={"domain": entry.name},
                max_episode_steps=DEFAULT_MAX_STEPS,
            )
        ids.append(identifier)
    return ids


register_envs()
