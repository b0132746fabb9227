"""asyncpg persistence for the directory and stories."""

from __future__ import annotations

import json

from candour_common.db import Connection
from candour_intake.domain import Organisation, Service, Story


async def get_organisation(conn: Connection, organisation_id: str) -> Organisation | None:
    row = await conn.fetchrow(
        "SELECT id, name, type FROM organisations WHERE id = $1", organisation_id
    )
    if row is None:
        return None
    services = await conn.fetch(
        "SELECT id, name FROM services WHERE organisation_id = $1 ORDER BY name", organisation_id
    )
    return Organisation(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        services=tuple(Service(id=s["id"], name=s["name"]) for s in services),
    )


async def list_organisations(conn: Connection) -> list[Organisation]:
    orgs = await conn.fetch("SELECT id, name, type FROM organisations ORDER BY name")
    services = await conn.fetch("SELECT id, organisation_id, name FROM services ORDER BY name")
    by_org: dict[str, list[Service]] = {}
    for s in services:
        by_org.setdefault(s["organisation_id"], []).append(Service(id=s["id"], name=s["name"]))
    return [
        Organisation(
            id=o["id"], name=o["name"], type=o["type"], services=tuple(by_org.get(o["id"], []))
        )
        for o in orgs
    ]


async def upsert_organisation(conn: Connection, org: Organisation) -> None:
    await conn.execute(
        """
        INSERT INTO organisations (id, name, type) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type,
                                       updated_at = now()
        """,
        org.id,
        org.name,
        org.type,
    )
    for service in org.services:
        await conn.execute(
            """
            INSERT INTO services (id, organisation_id, name) VALUES ($1, $2, $3)
            ON CONFLICT (id) DO UPDATE SET organisation_id = EXCLUDED.organisation_id,
                                           name = EXCLUDED.name
            """,
            service.id,
            org.id,
            service.name,
        )


async def add_story(conn: Connection, story: Story) -> None:
    await conn.execute(
        """
        INSERT INTO stories (id, title, body, organisation_id, service_id, author_name,
                             author_relationship, author_email, notify_on_response, tags,
                             experienced_at, author_token_hash, submitted_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)
        """,
        story.id,
        story.title,
        story.body,
        story.organisation.id,
        story.service.id if story.service else None,
        story.author.display_name,
        story.author.relationship.value,
        story.author.email,
        story.author.notify_on_response,
        json.dumps(story.tags.model_dump()),
        story.experienced_at,
        story.author_token_hash,
        story.submitted_at,
    )
