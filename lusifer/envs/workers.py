"""Sub-environments of the vector environment grouped on one core, in this process or in worker processes.

A :class:`Group` holds the sessions of some sub-environments and runs one batch for them (new users
started, slates stepped) on its core's event loop. ``RecommenderVectorEnv(workers=W)`` spreads the
sub-environments over W :class:`Worker` processes, each with its own core, event loop and HTTP client,
so that the client's CPU time per LLM call (prompts, SDK, HTTP, validation) is spent on W cores instead of
one. Users and seeds are drawn in the parent, so the rollouts are those of the one-process environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import pickle
from collections.abc import Coroutine
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from lusifer.envs.core import RecommenderCore, Session, StepOutcome

#: A sub-environment to start: its index, the user and the seed of the episode's own generator.
Start = tuple[int, str, int]
#: What a batch returns: per index, the reset info (a start) or the step outcome, and the observations.
Reply = tuple[dict[int, dict[str, Any] | StepOutcome], dict[int, dict[str, np.ndarray]]]


class Group:
    """The sessions of some sub-environments (by index) on one :class:`RecommenderCore`."""

    def __init__(self, core: RecommenderCore) -> None:
        self.core = core
        self.sessions: dict[int, Session] = {}

    def batch(self, starts: list[Start], actions: dict[int, Any], prepare: list[str]) -> Reply:
        """Start ``starts`` and step ``actions`` (index → action) concurrently, in index order; then begin
        building the profiles of the users in ``prepare``. Returns the results and the new observations."""
        core = self.core
        jobs: dict[int, Coroutine[Any, Any, Any]] = {index: core.start(user, seed=seed) for index, user, seed in starts}
        jobs.update({index: core.step(self.sessions[index], action) for index, action in actions.items()})
        order = sorted(jobs)
        results = core.run(_gather([jobs[index] for index in order]))
        replies: dict[int, dict[str, Any] | StepOutcome] = {}
        for index, result in zip(order, results):
            if isinstance(result, StepOutcome):
                replies[index] = result
            else:
                self.sessions[index], replies[index] = result
        for user in prepare:
            core.prepare(user)
        return replies, {index: core.observe(self.sessions[index]) for index in order}


async def _gather(jobs: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*jobs))


class Worker:
    """A child process serving one :class:`Group` over a pipe (started with ``spawn``)."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, kwargs), daemon=True, name="lusifer-env-worker")
        self.process.start()
        child.close()

    def ready(self) -> None:
        """Wait until the worker has built its core; raises what building it raised."""
        self.receive()

    def send(self, starts: list[Start], actions: dict[int, Any], prepare: list[str]) -> None:
        self.connection.send(("batch", (starts, actions, prepare)))

    def receive(self) -> Any:
        try:
            status, payload = self.connection.recv()
        except EOFError:
            raise RuntimeError(f"environment worker exited (exit code {self.process.exitcode})") from None
        if status == "error":
            raise payload
        return payload

    def close(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self.connection.send(("close", None))
            self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.connection.close()


def _serve(connection: Connection, kwargs: dict[str, Any]) -> None:
    try:
        group = Group(RecommenderCore(**kwargs))
    except Exception as error:
        connection.send(("error", _picklable(error)))
        return
    # The worker's process holds nothing but this core: its data and the libraries' objects stay alive until
    # it exits, so the garbage collector's full passes (tens of ms each, stalling every request of a step)
    # need not walk them again.
    gc.collect()
    gc.freeze()
    connection.send(("ok", None))
    try:
        while True:
            command, payload = connection.recv()
            if command == "close":
                break
            try:
                reply: tuple[str, Any] = ("ok", group.batch(*payload))
            except Exception as error:
                reply = ("error", _picklable(error))
            connection.send(reply)
    finally:
        group.core.close()
        connection.close()


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal positive shares (the first ones larger)."""
    return [max(1, total // parts + (part < total % parts)) for part in range(parts)]
