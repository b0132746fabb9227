"""Runs the theme finder in a worker process: it is CPU-bound (seconds to minutes),
and the service's event loop must keep answering searches meanwhile."""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from candour_search.themes import ThemeModel, find_themes


def finder_in_worker(*, seed: int, count: int | None = None) -> _WorkerFinder:
    return _WorkerFinder(seed=seed, count=count)


class _WorkerFinder:
    def __init__(self, *, seed: int, count: int | None) -> None:
        self._seed = seed
        self._count = count

    async def __call__(self, texts: Sequence[str]) -> ThemeModel:
        loop = asyncio.get_running_loop()
        # A fresh process per rebuild: hours apart, and its memory goes back after.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            return await loop.run_in_executor(
                pool,
                functools.partial(find_themes, list(texts), count=self._count, seed=self._seed),
            )


async def find_here(texts: Sequence[str], *, seed: int = 0, count: int | None = None) -> ThemeModel:
    """In this process (the CLI, the tests): nothing else waits on its loop."""
    return find_themes(texts, count=count, seed=seed)
