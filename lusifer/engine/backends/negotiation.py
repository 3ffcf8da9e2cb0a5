"""Structured-output negotiation: settle on the richest mode an OpenAI-compatible endpoint accepts.

With ``backend.structured_output = "auto"`` a request goes out in the endpoint's current mode (the first
of :data:`~lusifer.engine.backends.structured_output.MODES` unless one is remembered). When the server rejects
it *for its structured-output fields* (:func:`is_rejection`: HTTP 400, 422 or 500 naming
``response_format``, ``json_schema``, ``tools``...), the endpoint moves to the next mode and the same
request is sent again at once: the item does not fail and no retry is counted. The first mode that is
answered is stored per endpoint in ``<user dir>/structured_output.json`` (so the next run starts there),
and logged once. ``lusifer backends --probe URL`` negotiates afresh from the richest mode.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path

from lusifer.engine.backends.structured_output import MODES

AUTO = "auto"
STORE_FILE = "structured_output.json"
#: Statuses with which servers reject a field they do not support (llama-cpp-python answers 500).
REJECTION_STATUSES = frozenset({400, 422, 500})
_FIELD_NAMES = re.compile(r"response_format|json_schema|json_object|schema|tool_choice|\btools?\b", re.IGNORECASE)

_log = logging.getLogger("lusifer.backends")
_logged: set[tuple[str, str]] = set()


def is_rejection(status: int | None, message: str) -> bool:
    """Whether an error answer says the server does not accept the request's structured-output fields."""
    return status in REJECTION_STATUSES and _FIELD_NAMES.search(message) is not None


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class ModeStore:
    """Settled modes per endpoint, in one JSON file (``{endpoint: mode}``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> ModeStore:
        """The store in the user data dir."""
        from lusifer.paths import user_dir

        return cls(user_dir() / STORE_FILE)

    def read(self) -> dict[str, str]:
        """Every remembered ``{endpoint: mode}`` (unreadable or foreign entries are ignored)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {endpoint: mode for endpoint, mode in data.items() if mode in MODES}

    def get(self, endpoint: str) -> str | None:
        return self.read().get(endpoint)

    def put(self, endpoint: str, mode: str) -> None:
        """Remember ``mode`` for ``endpoint`` (written atomically: parallel runs never see half a file)."""
        data = {**self.read(), endpoint: mode}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".structured_output-")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, sort_keys=True)
        os.replace(temporary, self.path)


class Negotiator:
    """The structured-output mode of one endpoint, moved down by rejections, stored once answered.

    Concurrent requests may all be rejected in the same mode; only the first rejection of the current
    mode moves on, so no mode is skipped.

    :param endpoint: the server's base URL (the memory's key).
    :param store: where settled modes are remembered (None: nowhere).
    :param fresh: ignore a remembered mode and start from the richest.
    """

    def __init__(self, endpoint: str, store: ModeStore | None, *, fresh: bool = False) -> None:
        self.endpoint = endpoint
        self.store = store
        remembered = None if fresh or store is None else store.get(endpoint)
        self.mode = remembered or MODES[0]
        self.settled = remembered is not None
        #: Why each mode was given up: ``{mode: the server's message}``.
        self.rejections: dict[str, str] = {}

    def reject(self, mode: str, message: str) -> str | None:
        """Give up ``mode`` after the server rejected it; the mode to try now (None: none is left)."""
        if mode != self.mode:  # another request already moved past it
            return self.mode
        self.rejections[mode] = one_line(message)
        self.settled = False
        following = MODES.index(mode) + 1
        if following == len(MODES):
            return None
        self.mode = MODES[following]
        return self.mode

    def accept(self, mode: str) -> None:
        """The server answered a request in ``mode``: remember it (once) and say so (once)."""
        if self.settled or mode != self.mode:
            return
        self.settled = True
        if self.store is not None:
            self.store.put(self.endpoint, mode)
        if (self.endpoint, mode) in _logged:
            return
        _logged.add((self.endpoint, mode))
        if self.rejections:
            given_up = "; ".join(f"{name} rejected: {reason}" for name, reason in self.rejections.items())
            _log.warning("structured output for %s: using '%s' (%s)", self.endpoint, mode, given_up)
        else:
            _log.info("structured output for %s: using '%s'", self.endpoint, mode)
