"""Batch mode's driver: all users advance together, one vendor batch per step.

Every user is simulated by the usual coroutine (profile steps, then feedback), all at once. Their calls
go through a :class:`~lusifer.engine.calls.batch.BatchCallLayer`, where each call waits in a queue. Once every
unfinished user waits, the queue is one phase step of all of them — the initial profiles, then the
first updates, ..., then the feedback, then the re-asks of invalid answers — and is sent as one batch.
Its answers let each user go on to its next step, whose requests form the next batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from lusifer.engine.calls.batch import BatchCallLayer


async def run_in_batches(calls: BatchCallLayer, tasks: Sequence[asyncio.Task[None]]) -> None:
    """Wait for ``tasks`` (one per user) to finish, flushing ``calls`` whenever all of them wait on it.

    Raises what :meth:`BatchCallLayer.flush` raises (the users' own errors stay in their tasks).
    """
    while pending := [task for task in tasks if not task.done()]:
        if calls.waiting >= len(pending):
            await calls.flush()
            continue
        calls.changed.clear()
        changed = asyncio.ensure_future(calls.changed.wait())
        await asyncio.wait([*pending, changed], return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
