"""`UnitOfWork.add_events`: many outbox rows in one COPY, in order, the relay woken on
commit, nothing written if the unit of work rolls back."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
import pytest

from candour_common.db.outbox import NOTIFY_CHANNEL
from candour_common.db.pool import create_pool
from candour_common.db.uow import UnitOfWork
from candour_common.events import OrganisationListed
from candour_common.runtime import migrate_database

pytestmark = pytest.mark.integration


def listed(n: int) -> list[OrganisationListed]:
    at = datetime.now(UTC)
    return [
        OrganisationListed(
            organisation_id=f"ORG{i}",
            name=f"Trust {i}",
            type="nhs_trust",
            services=[],
            listed_at=at,
        )
        for i in range(n)
    ]


async def test_many_events_go_to_the_outbox_in_order_and_wake_the_relay_on_commit(
    create_database,
) -> None:
    url = await create_database("outbox_batch")
    await migrate_database(url, "candour_intake.migrations")
    pool = await create_pool(url, max_size=2)
    listener = await asyncpg.connect(url)
    woken: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: woken.put_nowait(args[2]))
    try:
        events = listed(3)
        async with UnitOfWork(pool, service="story-intake") as uow:
            single = await uow.add_event(listed(1)[0])
            ids = await uow.add_events(events)
            assert await uow.add_events([]) == []
            await asyncio.sleep(0.2)
            assert woken.empty()  # a notification is delivered on commit, not before
        await asyncio.wait_for(woken.get(), 5)

        rows = await pool.fetch(
            "SELECT event_id, topic, key, headers, payload FROM outbox ORDER BY seq"
        )
        assert [r["event_id"] for r in rows] == [single, *ids]
        for row, event, event_id in zip(rows[1:], events, ids, strict=True):
            assert row["topic"] == "directory.organisations"
            assert row["key"] == event.kafka_key()
            assert json.loads(row["headers"])["ce_id"] == str(event_id)
            assert json.loads(row["payload"]) == json.loads(event.model_dump_json())

        async def fails_after_writing() -> None:
            async with UnitOfWork(pool, service="story-intake") as uow:
                await uow.add_events(listed(2))
                raise RuntimeError("the use case failed")

        with pytest.raises(RuntimeError):
            await fails_after_writing()
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 4
    finally:
        await listener.close()
        await pool.close()
