"""Background upkeep of the index while the service runs: compacting the count tables."""

from __future__ import annotations

import asyncio

import structlog

from candour_common.runtime import Platform
from candour_search.service_layer import handlers

log = structlog.get_logger(__name__)

# Every indexed event adds a few delta rows to the count tables; folding them each second
# keeps what a search sums small, whatever the indexing rate.
COMPACT_INTERVAL_SECONDS = 1.0


async def compact_counts_forever(platform: Platform) -> None:
    while True:
        try:
            folded = await handlers.compact_counts(platform.pool)
            if folded:
                log.debug("count deltas folded", rows=folded)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database outage: try again next round
            log.warning("count compaction failed; will retry", error=repr(exc))
        await asyncio.sleep(COMPACT_INTERVAL_SECONDS)


def start(platform: Platform) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(compact_counts_forever(platform), name="compact-counts")]
