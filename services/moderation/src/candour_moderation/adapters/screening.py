"""Screening off the event loop: a pool of worker processes, each with its own Screener.

Screening is CPU-bound Python: in the service's own process it would hold the
event loop (and the GIL, so a thread would not help) for as long as a large
story takes, and `/healthz`, the queue API and the Kafka consumers would all
wait. A worker process screens while the loop goes on serving. Workers are
spawned (not forked: the service has threads and open sockets) and build their
Screener once, when they start.

A batch of stories (a consumer's backlog) is cut into a few chunks per worker and the
chunks screened at once: every worker busy, and one round trip to a worker per chunk
rather than per story.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping, Sequence
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


# Stories' text fields and their authors' names, as a worker receives them.
_Chunk = list[tuple[dict[str, str], str | None]]
# Chunks per worker for a batch: enough that one long story does not leave the other
# workers idle at the end, few enough that the round trips stay cheap.
CHUNKS_PER_WORKER = 4


def _screen(chunk: _Chunk) -> list[Screening]:
    screener = candour_screening.default_screener()
    return [screener.screen(fields, author_name=author_name) for fields, author_name in chunk]


def chunks(stories: _Chunk, workers: int) -> list[_Chunk]:
    """`stories` cut, in order, into at most `workers * CHUNKS_PER_WORKER` runs of
    near-equal length."""
    count = min(len(stories), workers * CHUNKS_PER_WORKER)
    size, extra = divmod(len(stories), count) if count else (0, 0)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(stories[start:end])
        start = end
    return out


class ScreeningPool:
    """Screens stories in `workers` processes: started by `start()` when the service
    starts, or by the first story if that comes first; `close()` when it stops."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def start(self) -> None:
        """Start the workers now, so the first story does not wait for them (once: the
        consumer may have started them already, on its first story)."""
        if self._closed:
            raise RuntimeError("the screening pool is closed")
        if self._executor is None:
            self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm,
            initargs=(os.getpid(),),
        )
        for _ in range(self._workers):
            executor.submit(_ready)
        return executor

    async def screen(
        self, stories: Sequence[tuple[Mapping[str, str], str | None]]
    ) -> list[Screening]:
        """Screen `stories` (text fields, author's name) in the workers, all at once;
        the results in the same order."""
        work = [(dict(fields), author_name) for fields, author_name in stories]
        parts = await asyncio.gather(*(self._run(chunk) for chunk in chunks(work, self._workers)))
        return [screening for part in parts for screening in part]

    async def _run(self, chunk: _Chunk) -> list[Screening]:
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            self.start()
            executor = self._executor
            assert executor is not None
            try:
                return await loop.run_in_executor(executor, _screen, chunk)
            except BrokenProcessPool:
                # A worker died (killed, out of memory): start a new pool once.
                log.warning("screening worker died; restarting the pool", attempt=attempt)
                if attempt == 2:
                    raise
                if self._executor is executor:  # not restarted already for another chunk
                    executor.shutdown(wait=False, cancel_futures=True)
                    self._executor = None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def run_until_cancelled(self) -> None:
        """A background task of the service: closes the pool when the service stops."""
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self.close)
