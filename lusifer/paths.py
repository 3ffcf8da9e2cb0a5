"""Where Lusifer keeps its per-user files (keys, cache, downloaded data)."""

from __future__ import annotations

import os
from pathlib import Path


def user_dir() -> Path:
    """The per-user Lusifer directory: ``$LUSIFER_HOME`` or the platform's user data dir."""
    override = os.environ.get("LUSIFER_HOME")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("lusifer", appauthor=False))


def data_cache_dir() -> Path:
    """Where downloaded datasets are unpacked: ``$LUSIFER_DATA_DIR`` or ``<user dir>/data``."""
    override = os.environ.get("LUSIFER_DATA_DIR")
    return Path(override).expanduser() if override else user_dir() / "data"
