"""What the engine needs from the run's store: given to it, implemented by :class:`lusifer.runs.store.RunStore`."""

from __future__ import annotations

from typing import Protocol

from lusifer.api.run_info import ProfileState


class ProfileStore(Protocol):
    """Where completed profile steps are kept, so a rerun resumes from them."""

    def profiles(self, user_id: str | None = None) -> list[ProfileState]:
        """The stored profile states (of one user, or all)."""
        ...

    def add_profile(self, state: ProfileState) -> None:
        """Persist one completed profile step."""
        ...


class BatchStore(Protocol):
    """Where submitted vendor batches are remembered across restarts."""

    def add_batch(self, batch_id: str, backend: str, keys: list[str]) -> None:
        """Remember a submitted batch and the request keys it answers."""
        ...

    def open_batches(self, backend: str) -> dict[str, list[str]]:
        """Submitted batches of ``backend`` not yet collected: id -> request keys."""
        ...

    def close_batch(self, batch_id: str) -> None:
        """Forget a collected batch."""
        ...
