"""The run store of online use (the Gymnasium environment): every episode's profile states are kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lusifer.api.run_info import ProfileState
from lusifer.runs.store import RunStore


class TimelineStore(RunStore):
    """A run store that keeps every episode's profile states: online states get the next free step
    number of their user, so episodes of the same user never overwrite each other."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self._next_step: dict[str, int] = {}

    def add_profile(self, state: ProfileState) -> None:
        user = state.user_id
        if user not in self._next_step:
            self._next_step[user] = max((stored.step for stored in self.profiles(user)), default=-1) + 1
        if state.source != "history":
            state = replace(state, step=max(state.step, self._next_step[user]))
        super().add_profile(state)
        self._next_step[user] = max(self._next_step[user], state.step + 1)
