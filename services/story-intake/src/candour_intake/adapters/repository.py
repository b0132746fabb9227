"""asyncpg persistence for the directory, stories and responses."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from uuid import UUID

from candour_common.db import Connection
from candour_common.events import RejectionReason
from candour_intake.domain import (
    Organisation,
    PostResponse,
    Service,
    Story,
    StoryState,
    StoryStatus,
)


async def get_organisation(conn: Connection, organisation_id: str) -> Organisation | None:
    row = await conn.fetchrow(
        "SELECT id, name, type FROM organisations WHERE id = $1", organisation_id
    )
    if row is None:
        return None
    services = await conn.fetch(
        "SELECT id, name, programme FROM services WHERE organisation_id = $1 ORDER BY name",
        organisation_id,
    )
    return Organisation(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        services=tuple(
            Service(id=s["id"], name=s["name"], programme=s["programme"]) for s in services
        ),
    )


async def list_organisations(conn: Connection) -> list[Organisation]:
    orgs = await conn.fetch("SELECT id, name, type FROM organisations ORDER BY name")
    services = await conn.fetch(
        "SELECT id, organisation_id, name, programme FROM services ORDER BY name"
    )
    by_org: dict[str, list[Service]] = {}
    for s in services:
        by_org.setdefault(s["organisation_id"], []).append(
            Service(id=s["id"], name=s["name"], programme=s["programme"])
        )
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
    await conn.executemany(
        """
        INSERT INTO services (id, organisation_id, name, programme) VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO UPDATE SET organisation_id = EXCLUDED.organisation_id,
                                       name = EXCLUDED.name, programme = EXCLUDED.programme
        """,
        [(s.id, org.id, s.name, s.programme) for s in org.services],
    )


async def organisation_name(conn: Connection, organisation_id: str) -> str:
    name = await conn.fetchval("SELECT name FROM organisations WHERE id = $1", organisation_id)
    return str(name) if name is not None else organisation_id


async def add_story(conn: Connection, story: Story) -> None:
    await conn.execute(
        """
        INSERT INTO stories (id, title, body, organisation_id, service_id, author_name,
                             author_relationship, author_email, notify_on_response, tags,
                             experienced_at, author_token_hash, submitted_at, source,
                             external_id, assisted_by, represents, safeguarding_level)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15, $16,
                $17::jsonb, $18)
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
        story.source.value,
        story.external_id,
        story.assisted_by,
        story.represents.model_dump_json(),
        story.safeguarding_level,
    )


def import_digest(source: str, external_id: str) -> bytes:
    """What a withdrawn story keeps of its provenance: enough to refuse a re-import."""
    return hashlib.sha256(f"candour-import\0{source}\0{external_id}".encode()).digest()


async def find_by_external_id(conn: Connection, source: str, external_id: str) -> UUID | None:
    """The story imported from that entry, withdrawn ones included."""
    story_id = await conn.fetchval(
        """
        SELECT id FROM stories
        WHERE (source = $1 AND external_id = $2) OR import_digest = $3
        """,
        source,
        external_id,
        import_digest(source, external_id),
    )
    return story_id if isinstance(story_id, UUID) else None


_STATE = """
    SELECT id, organisation_id, status, author_token_hash, rejection_reason, response_count,
           safeguarding_level
    FROM stories WHERE id = $1
"""
_STATE_FOR_UPDATE = _STATE + " FOR UPDATE"


async def get_story_state(
    conn: Connection, story_id: UUID, *, for_update: bool = False
) -> StoryState | None:
    row = await conn.fetchrow(_STATE_FOR_UPDATE if for_update else _STATE, story_id)
    if row is None:
        return None
    return StoryState(
        id=row["id"],
        organisation_id=row["organisation_id"],
        status=StoryStatus(row["status"]),
        author_token_hash=bytes(row["author_token_hash"]),
        rejection_reason=(
            RejectionReason(row["rejection_reason"]) if row["rejection_reason"] else None
        ),
        response_count=row["response_count"],
        safeguarding_level=row["safeguarding_level"],
    )


async def mark_published(
    conn: Connection, story_id: UUID, published_at: datetime, revision: int
) -> None:
    # A withdrawn story stays withdrawn, and an older revision never overwrites a newer one.
    await conn.execute(
        """
        UPDATE stories SET status = 'published', published_at = $2, revision = $3
        WHERE id = $1 AND status <> 'withdrawn' AND revision < $3
        """,
        story_id,
        published_at,
        revision,
    )


async def mark_rejected(
    conn: Connection, story_id: UUID, rejected_at: datetime, reason: RejectionReason
) -> None:
    await conn.execute(
        """
        UPDATE stories SET status = 'rejected', rejected_at = $2, rejection_reason = $3
        WHERE id = $1 AND status <> 'withdrawn'
        """,
        story_id,
        rejected_at,
        reason.value,
    )


async def mark_withdrawn(conn: Connection, story_id: UUID, withdrawn_at: datetime) -> None:
    """Withdrawn: keep only what the status page needs; the text, the contact and the
    provenance go. Kept: the source's category (web, healthwatch, ...: nobody's data)
    and, for an imported story, a digest of its entry that stops a re-import."""
    imported = await conn.fetchrow(
        "SELECT source, external_id FROM stories WHERE id = $1 AND external_id IS NOT NULL",
        story_id,
    )
    await conn.execute(
        """
        UPDATE stories SET status = 'withdrawn', withdrawn_at = $2, title = '', body = '',
               author_name = '', author_email = NULL, notify_on_response = false,
               tags = '{}'::jsonb, experienced_at = NULL, import_digest = $3,
               external_id = NULL, assisted_by = NULL, represents = DEFAULT,
               safeguarding_level = NULL
        WHERE id = $1
        """,
        story_id,
        withdrawn_at,
        import_digest(imported["source"], imported["external_id"]) if imported else None,
    )
    await conn.execute("UPDATE responses SET body = '' WHERE story_id = $1", story_id)


async def response_ids(conn: Connection, story_id: UUID) -> list[UUID]:
    rows = await conn.fetch("SELECT id FROM responses WHERE story_id = $1 ORDER BY id", story_id)
    return [r["id"] for r in rows]


async def add_response(
    conn: Connection, response_id: UUID, command: PostResponse, posted_at: datetime
) -> None:
    await conn.execute(
        """
        INSERT INTO responses (id, story_id, organisation_id, responder_name, responder_role,
                               responder_subject, body, change, posted_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        response_id,
        command.story_id,
        command.organisation_id,
        command.responder.display_name,
        command.responder.role,
        command.responder_subject,
        command.body,
        command.change.value if command.change else None,
        posted_at,
    )
    await conn.execute(
        "UPDATE stories SET response_count = response_count + 1 WHERE id = $1", command.story_id
    )
