"""Progress for logs: when stderr is not a terminal, one plain line at a steady interval.

A batch job's log then shows how far a long run is (users done, calls/s, tokens, cost, failed
exchanges, ETA) instead of staying empty until the end. ``LUSIFER_PROGRESS_INTERVAL`` sets the
interval in seconds (default 30).
"""

from __future__ import annotations

import os
import sys
import time

DEFAULT_INTERVAL_S = 30.0


def interval_s() -> float:
    """Seconds between two lines (``$LUSIFER_PROGRESS_INTERVAL``, default 30)."""
    try:
        return max(float(os.environ.get("LUSIFER_PROGRESS_INTERVAL", DEFAULT_INTERVAL_S)), 0.0)
    except ValueError:
        return DEFAULT_INTERVAL_S


class ProgressLines:
    """Writes ``lusifer: progress ...`` lines to stderr, at most one per interval."""

    def __init__(self, interval: float | None = None) -> None:
        self.interval = interval_s() if interval is None else interval
        self.total = self.done = self._done_at_start = 0
        self._started = self._last = time.monotonic()

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self._done_at_start = total, done, done
        self._started = self._last = time.monotonic()

    def user_finished(self) -> None:
        self.done += 1

    def maybe_write(self, calls: int, tokens: int, cost: float, failures: int) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self._started, 1e-9)
        finished = self.done - self._done_at_start
        eta = "unknown" if finished == 0 else f"{(self.total - self.done) * elapsed / finished:.0f}s"
        sys.stderr.write(
            f"lusifer: progress users {self.done}/{self.total}, {calls / elapsed:.1f} calls/s, {tokens:,} tokens, "
            f"${cost:.4f}, {failures} failed calls, ETA {eta}\n"
        )
        sys.stderr.flush()
