"""Retention: rows kept only as long as they are needed, purged by the service itself.

Every service runs `run_retention` in the background (no cron): sent outbox rows
(they hold event payloads, i.e. story text), inbox ids, and whatever the service adds
(story-intake: idempotency keys). Each pass deletes in small batches, so it never
holds long locks, and says what it purged in a log line and in the
`candour_retention_purged` counter. Several copies of a service may run it at once:
a delete is a delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

log = structlog.get_logger(__name__)

BATCH = 5_000


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """Delete rows of `table` whose `age_column` is older than `max_age` (and that
    satisfy `condition`, a constant SQL expression)."""

    table: str
    age_column: str
    max_age: timedelta
    condition: str = "TRUE"

    def statement(self) -> str:
        # Only constants of this module and of the services go into the text.
        return f"""
            DELETE FROM {self.table} WHERE ctid = ANY(ARRAY(
                SELECT ctid FROM {self.table}
                WHERE ({self.condition}) AND {self.age_column} < now() - $1::interval
                LIMIT $2
            ))
        """  # noqa: S608


def platform_rules(*, outbox_max_age: timedelta, inbox_max_age: timedelta) -> list[RetentionRule]:
    """The shared tables every service has: published outbox rows and processed event ids.

    An unsent outbox row is never purged: it is an event not yet published.
    """
    return [
        RetentionRule("outbox", "sent_at", outbox_max_age, condition="sent_at IS NOT NULL"),
        RetentionRule("inbox", "processed_at", inbox_max_age),
    ]


async def purge(
    pool: asyncpg.Pool, rules: Sequence[RetentionRule], *, batch: int = BATCH
) -> dict[str, int]:
    """Delete everything past its age, batch by batch; return rows deleted per table."""
    purged: dict[str, int] = {}
    for rule in rules:
        statement = rule.statement()
        total = 0
        while True:
            async with pool.acquire() as conn:
                status = await conn.execute(statement, rule.max_age, batch)
            deleted = int(status.split()[-1])
            total += deleted
            if deleted < batch:
                break
        purged[rule.table] = purged.get(rule.table, 0) + total
    return purged


async def run_retention(
    pool: asyncpg.Pool,
    rules: Sequence[RetentionRule],
    *,
    interval: float,
    on_purged: Callable[[Mapping[str, int]], None] | None = None,
    on_retry: Callable[[BaseException], None] | None = None,
) -> None:
    """Purge now, then every `interval` seconds, until cancelled; survives outages."""
    while True:
        try:
            purged = await purge(pool, rules)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database down: try again at the next pass
            log.warning(
                "retention purge failed; will try again", error=repr(exc), retry_in=interval
            )
            if on_retry is not None:
                on_retry(exc)
        else:
            if on_purged is not None:
                on_purged(purged)
            if any(purged.values()):
                log.info("retention purged", **{f"{t}_rows": n for t, n in purged.items()})
            else:
                log.debug("retention: nothing to purge")
        await asyncio.sleep(interval)
