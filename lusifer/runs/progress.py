"""A live progress display for runs (rich): the run directory, users done, calls/s, tokens, cost, cache
hits, retries, failed calls, ETA."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from lusifer.api.exchange import Exchange


class RunProgress:
    """Counts a run's progress; draws a rich progress bar when stderr is a terminal."""

    def __init__(self, enabled: bool | None = None, out: Path | None = None, console: Console | None = None) -> None:
        """:param out: the run directory, shown on the bar (so a long run says where its results go).
        :param console: where the bar is drawn (default: stderr)."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from lusifer.runs.progress_lines import ProgressLines

        self.calls = self.cache_hits = self.tokens = self.failed_calls = self.retries = 0
        #: Plain lines for logs when stderr is not a terminal and the bar was not asked for.
        self.lines = ProgressLines() if enabled is None and not sys.stderr.isatty() else None
        self.cost = 0.0
        self._started = time.monotonic()
        self._progress = Progress(
            TextColumn(f"{out} users" if out is not None else "users"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            disable=not (sys.stderr.isatty() if enabled is None else enabled),
        )
        self._task = self._progress.add_task("users", total=None, stats="")

    def start(self, total: int, done: int) -> None:
        self._started = time.monotonic()
        self._progress.update(self._task, total=total, completed=done)
        if self.lines is not None:
            self.lines.start(total, done)
        self._progress.start()

    def exchange(self, exchange: Exchange) -> None:
        if exchange.cache_hit:
            self.cache_hits += 1
        else:
            self.calls += 1
        self.tokens += exchange.prompt_tokens + exchange.completion_tokens
        self.cost += exchange.cost_usd
        self.failed_calls += int(exchange.error is not None)
        self.retries += max(exchange.attempts - 1, 0)
        self._refresh()

    def user_finished(self) -> None:
        self._progress.advance(self._task)
        if self.lines is not None:
            self.lines.user_finished()
        self._refresh()

    def _refresh(self) -> None:
        rate = self.calls / max(time.monotonic() - self._started, 1e-9)
        stats = f"{rate:.1f} calls/s  {self.tokens:,} tokens  ${self.cost:.4f}  {self.cache_hits} cached"
        stats += f"  {self.retries} retries" if self.retries else ""
        stats += f"  {self.failed_calls} failed calls" if self.failed_calls else ""
        self._progress.update(self._task, stats=stats)
        if self.lines is not None:
            self.lines.maybe_write(self.calls, self.tokens, self.cost, self.failed_calls)

    def stop(self) -> None:
        self._progress.stop()
