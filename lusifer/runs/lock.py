"""One process at a time per run directory: an OS file lock on ``<run dir>/.lusifer.lock``.

The lock is the operating system's (``flock`` on POSIX, ``msvcrt.locking`` on Windows), so it dies
with its process: a run killed with SIGKILL leaves no lock behind that could block its resume. The
file holds the holder's pid and start time, which a refused process quotes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from lusifer.api.errors import LusiferError

LOCK_FILE = ".lusifer.lock"


class RunLockedError(LusiferError):
    """Another process works on the same run directory."""


class RunLock:
    """Hold ``<run dir>/.lusifer.lock`` while a run (or merge) writes the directory.

    :raises RunLockedError: from :meth:`acquire` when another live process holds it.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._descriptor: int | None = None

    def acquire(self) -> RunLock:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(descriptor)
        except OSError:
            holder = _holder(descriptor)
            os.close(descriptor)
            raise RunLockedError(
                f"{self.path.parent} is in use by another lusifer process ({holder}); "
                "wait for it to finish or use another --out"
            ) from None
        os.ftruncate(descriptor, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        os.write(descriptor, json.dumps({"pid": os.getpid(), "since": started}).encode())
        self._descriptor = descriptor
        return self

    def release(self) -> None:
        if self._descriptor is not None:
            os.ftruncate(self._descriptor, 0)
            _unlock(self._descriptor)
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def _holder(descriptor: int) -> str:
    try:
        info = json.loads(os.pread(descriptor, 4096, 0) or b"{}") if hasattr(os, "pread") else {}
    except ValueError:
        info = {}
    if "pid" not in info:
        return "lock held"
    return f"lock held by pid {info['pid']} since {info.get('since', '?')}"


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(descriptor: int) -> None:
        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)

    def _unlock(descriptor: int) -> None:
        os.lseek(descriptor, 0, os.SEEK_SET)
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
