from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from candour_common.runtime import migrate_database
from candour_common.topics import TopicNames
from candour_intake.adapters import repository
from candour_intake.domain import Organisation, Service
from candour_intake.settings import IntakeSettings

SECRET = "intake-tests-secret-0123456789abcdef0123"

TRUSTS = (
    Organisation(
        id="TAD",
        name="Bradford District Care NHS Foundation Trust",
        type="nhs_trust",
        services=(Service(id="TAD-CMHT", name="Community mental health team"),),
    ),
    Organisation(
        id="RXA",
        name="Cheshire and Wirral Partnership NHS Foundation Trust",
        type="nhs_trust",
        services=(Service(id="RXA-CRISIS", name="Crisis team"),),
    ),
)

STORY = {
    "title": "Kind nurses on ward 4",
    "body": "The staff listened to me and explained everything.",
    "organisation_id": "TAD",
    "service_id": "TAD-CMHT",
    "author": {
        "display_name": "A patient",
        "relationship": "patient",
        "email": "author@example.org",
        "notify_on_response": True,
    },
    "tags": {"good": ["kindness"], "improve": [], "feelings": ["reassured"]},
}

MakeIntake = Callable[..., Awaitable[IntakeSettings]]


async def seed_intake_database(url: str) -> None:
    """Migrate intake's database at `url` and load the test trusts into its directory."""
    await migrate_database(url, "candour_intake.migrations")
    conn = await asyncpg.connect(url)
    try:
        for trust in TRUSTS:
            await repository.PostgresDirectory(conn).upsert(trust)
    finally:
        await conn.close()


@pytest.fixture
def make_intake(create_database, kafka_bootstrap: str, topics: TopicNames) -> MakeIntake:
    async def make(**overrides: object) -> IntakeSettings:
        url = await create_database("intake")
        await seed_intake_database(url)
        values: dict[str, object] = {
            "database_url": url,
            "kafka_bootstrap": kafka_bootstrap,
            "topic_prefix": topics.prefix,
            "outbox_poll_interval": 0.2,
            "jwt_secret": SECRET,
        }
        values.update(overrides)
        return IntakeSettings(**values)  # type: ignore[arg-type]

    return make
