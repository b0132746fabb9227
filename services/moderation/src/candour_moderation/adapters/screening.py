"""Screening off the event loop: a pool of worker processes, each with its own Screener.

Screening is CPU-bound Python: in the service's own process it would hold the
event loop (and the GIL, so a thread would not help) for as long as a large
story takes, and `/healthz`, the queue API and the Kafka consumers would all
wait. A worker process screens while the loop goes on serving. Workers are
spawned (not forked: the service has threads and open sockets) and build their
Screener once, when they start.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog

import candour_screening
from candour_screening import Screening

log = structlog.get_logger(__name__)


def _warm(parent: int) -> None:
    _exit_with_parent(parent)
    # Loads spaCy here, in the worker; the service's own process never does.
    candour_screening.default_screener()


def _ready() -> None:
    """Nothing: submitting it makes the pool start a worker (and run `_warm`) now."""


def _exit_with_parent(parent: int, check_every: float = 1.0) -> None:
    """A worker outlives its service only if the service was killed (SIGKILL, OOM):
    then nothing shuts the pool down, so each worker watches its parent and leaves.
    The parent's pid comes from the parent: it may be gone before this even runs."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(check_every)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _screen(fields: dict[str, str], author_name: str | None) -> Screening:
    return candour_screening.default_screener().screen(fields, author_name=author_name)


class ScreeningPool:
    """Screens stories in `workers` processes. `start()` when the service starts."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm,
            initargs=(os.getpid(),),
        )
        # Start the workers now, so the first story does not wait for them.
        for _ in range(self._workers):
            self._executor.submit(_ready)

    async def screen(self, fields: Mapping[str, str], author_name: str | None) -> Screening:
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self._executor
            if executor is None:
                raise RuntimeError("the screening pool is not started")
            try:
                return await loop.run_in_executor(executor, _screen, dict(fields), author_name)
            except BrokenProcessPool:
                # A worker died (killed, out of memory): start a new pool once.
                log.warning("screening worker died; restarting the pool", attempt=attempt)
                if attempt == 2:
                    raise
                executor.shutdown(wait=False, cancel_futures=True)
                self.start()
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def run_until_cancelled(self) -> None:
        """A background task of the service: closes the pool when the service stops."""
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self.close)
