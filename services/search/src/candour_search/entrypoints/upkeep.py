"""Background upkeep of the index while the service runs: compacting the count tables."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from candour_search.service_layer import handlers
from candour_search.service_layer.unit_of_work import SearchUnitOfWork

log = structlog.get_logger(__name__)

# Every indexed event adds a few delta rows to the count tables; folding them each second
# keeps what a search sums small, whatever the indexing rate.
COMPACT_INTERVAL_SECONDS = 1.0


async def compact_counts_forever(new_uow: Callable[[], SearchUnitOfWork]) -> None:
    while True:
        try:
            folded = await handlers.compact_counts(new_uow())
            if folded:
                log.debug("count deltas folded", rows=folded)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database outage: try again next round
            log.warning("count compaction failed; will retry", error=repr(exc))
        await asyncio.sleep(COMPACT_INTERVAL_SECONDS)


def start(new_uow: Callable[[], SearchUnitOfWork]) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(compact_counts_forever(new_uow), name="compact-counts")]
