"""asyncpg persistence for the directory, stories and responses: repositories bound to
one unit of work's connection (see service_layer/unit_of_work.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from candour_common.db import Connection
from candour_common.events import (
    AuthorContact,
    ChangeMarker,
    OrganisationLanguage,
    OrganisationRef,
    Reach,
    RejectionReason,
    Relationship,
    Responder,
    ServiceRef,
    Source,
    StoryApproved,
    StoryLanguage,
    Tags,
)
from candour_intake.domain import (
    InboxPage,
    InboxQuery,
    Organisation,
    PostResponse,
    PublishedStory,
    Service,
    StaffResponse,
    Story,
    StoryState,
    StoryStatus,
)

# An organisation and its services by name, as one row (the services as parallel arrays).
_ORGANISATION_WITH_SERVICES = """
SELECT o.id, o.name, o.type, o.name_cy, o.email_language,
       s.ids AS service_ids, s.names AS service_names,
       s.programmes AS service_programmes, s.names_cy AS service_names_cy
FROM organisations o
CROSS JOIN LATERAL (
    SELECT array_agg(id ORDER BY name, id) AS ids,
           array_agg(name ORDER BY name, id) AS names,
           array_agg(programme ORDER BY name, id) AS programmes,
           array_agg(name_cy ORDER BY name, id) AS names_cy
    FROM services WHERE organisation_id = o.id
) s
WHERE o.id = $1
"""


class PostgresDirectory:
    """The organisations and their services, as intake holds them."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, organisation_id: str) -> Organisation | None:
        # One round trip (every submission asks): the organisation with its services.
        row = await self._conn.fetchrow(_ORGANISATION_WITH_SERVICES, organisation_id)
        if row is None:
            return None
        services = [
            Service(id=id_, name=name, programme=programme, name_cy=name_cy)
            for id_, name, programme, name_cy in zip(
                row["service_ids"] or (),
                row["service_names"] or (),
                row["service_programmes"] or (),
                row["service_names_cy"] or (),
                strict=True,
            )
        ]
        return _organisation(row, services)

    async def all(self) -> list[Organisation]:
        orgs = await self._conn.fetch(
            "SELECT id, name, type, name_cy, email_language FROM organisations ORDER BY name"
        )
        services = await self._conn.fetch(
            "SELECT id, organisation_id, name, programme, name_cy FROM services ORDER BY name"
        )
        by_org: dict[str, list[Service]] = {}
        for s in services:
            by_org.setdefault(s["organisation_id"], []).append(_service(s))
        return [_organisation(o, by_org.get(o["id"], [])) for o in orgs]

    async def upsert(self, org: Organisation) -> None:
        await self._conn.execute(
            """
            INSERT INTO organisations (id, name, type, name_cy, email_language)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type,
                                           name_cy = EXCLUDED.name_cy,
                                           email_language = EXCLUDED.email_language,
                                           updated_at = now()
            """,
            org.id,
            org.name,
            org.type,
            org.name_cy,
            org.email_language.value,
        )
        await self._conn.executemany(
            """
            INSERT INTO services (id, organisation_id, name, programme, name_cy)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO UPDATE SET organisation_id = EXCLUDED.organisation_id,
                                           name = EXCLUDED.name, programme = EXCLUDED.programme,
                                           name_cy = EXCLUDED.name_cy
            """,
            [(s.id, org.id, s.name, s.programme, s.name_cy) for s in org.services],
        )

    async def name(self, organisation_id: str) -> str:
        name = await self._conn.fetchval(
            "SELECT name FROM organisations WHERE id = $1", organisation_id
        )
        return str(name) if name is not None else organisation_id


def _service(row: Any) -> Service:
    return Service(
        id=row["id"], name=row["name"], programme=row["programme"], name_cy=row["name_cy"]
    )


def _organisation(row: Any, services: Sequence[Service]) -> Organisation:
    return Organisation(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        services=tuple(services),
        name_cy=row["name_cy"],
        email_language=OrganisationLanguage(row["email_language"]),
    )


def import_digest(source: str, external_id: str) -> bytes:
    """What a withdrawn story keeps of its provenance: enough to refuse a re-import."""
    return hashlib.sha256(f"candour-import\0{source}\0{external_id}".encode()).digest()


_STORY_COLUMNS = (
    "id",
    "title",
    "body",
    "organisation_id",
    "service_id",
    "author_name",
    "author_relationship",
    "author_email",
    "notify_on_response",
    "tags",
    "experienced_at",
    "author_token_hash",
    "submitted_at",
    "source",
    "external_id",
    "assisted_by",
    "represents",
    "safeguarding_level",
    "language",
    "version",
)


def _story_row(story: Story) -> tuple[Any, ...]:
    return (
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
        story.language.value,
        story.version,
    )


_STATE = """
    SELECT id, organisation_id, status, author_token_hash, rejection_reason, response_count,
           safeguarding_level, version
    FROM stories WHERE id = $1
"""
_STATE_FOR_UPDATE = _STATE + " FOR UPDATE"

# A story published before intake kept the published text (migration 0023) has none
# here: its page links to the public story instead, and its service is the author's pick.
_PUBLISHED = """
    SELECT id, organisation_id, coalesce(published_title, title) AS title,
           coalesce(published_body, '') AS body,
           CASE WHEN published_body IS NULL THEN service_id ELSE published_service_id END
               AS service_id,
           published_service_name, criticality, published_at, response_count
    FROM stories
"""


def _published(row: Any) -> PublishedStory:
    return PublishedStory(
        id=row["id"],
        organisation_id=row["organisation_id"],
        title=row["title"],
        body=row["body"],
        service_id=row["service_id"],
        service_name=row["published_service_name"],
        criticality=row["criticality"],
        published_at=row["published_at"],
        response_count=row["response_count"],
    )


_INBOX_WHERE = """
    WHERE organisation_id = $1 AND status = 'published'
      AND ($2::text IS NULL OR $2 = CASE WHEN published_body IS NULL THEN service_id
                                        ELSE published_service_id END)
      AND ($3::int IS NULL OR criticality >= $3)
      AND ($4::boolean IS NULL OR (response_count > 0) = $4)
"""
_INBOX_COUNT = "SELECT count(*) FROM stories" + _INBOX_WHERE  # noqa: S608 (constants)
_INBOX_PAGE = (
    _PUBLISHED
    + _INBOX_WHERE
    + " ORDER BY (response_count > 0), published_at DESC, id LIMIT $5 OFFSET $6"
)

# Imports of one source take turns: two runs of the same file cannot both find an
# entry new and then collide on its unique index.
_IMPORT_LOCK = 0x494D504F5254  # "IMPORT"


class PostgresStories:
    """The stories: what the author sent, its status, and what moderation published."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, story: Story) -> None:
        await self.add_many([story])

    async def add_many(self, stories: Sequence[Story]) -> None:
        if len(stories) == 1:
            placeholders = ", ".join(
                f"${i}" + ("::jsonb" if c in ("tags", "represents") else "")
                for i, c in enumerate(_STORY_COLUMNS, start=1)
            )
            await self._conn.execute(
                f"INSERT INTO stories ({', '.join(_STORY_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608 (constants)
                *_story_row(stories[0]),
            )
        elif stories:  # a bulk import: one COPY
            await self._conn.copy_records_to_table(
                "stories", columns=_STORY_COLUMNS, records=[_story_row(s) for s in stories]
            )

    async def lock_imports(self, source: str) -> None:
        """Take the source's import turn until the transaction ends."""
        await self._conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", 1, source)

    async def imported(self, source: str, external_ids: Sequence[str]) -> dict[str, UUID]:
        """Which of the source's entries are stories already (withdrawn ones included)."""
        digests = {import_digest(source, e): e for e in external_ids}
        rows = await self._conn.fetch(
            """
            SELECT id, external_id, import_digest FROM stories
            WHERE (source = $1 AND external_id = ANY($2::text[]))
               OR import_digest = ANY($3::bytea[])
            """,
            source,
            list(external_ids),
            list(digests),
        )
        found: dict[str, UUID] = {}
        for row in rows:
            external_id = row["external_id"] or digests.get(bytes(row["import_digest"] or b""))
            if external_id is not None:
                found[external_id] = row["id"]
        return found

    async def state(self, story_id: UUID, *, for_update: bool = False) -> StoryState | None:
        row = await self._conn.fetchrow(_STATE_FOR_UPDATE if for_update else _STATE, story_id)
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
            version=row["version"],
        )

    async def get(self, story_id: UUID) -> Story | None:
        """The story as the author sent it last (with their contact), or None."""
        row = await self._conn.fetchrow(
            """
            SELECT s.*, s.tags::text AS tags_text, s.represents::text AS represents_text,
                   o.name AS organisation_name, sv.name AS service_name,
                   sv.programme AS service_programme
            FROM stories s JOIN organisations o ON o.id = s.organisation_id
            LEFT JOIN services sv ON sv.id = s.service_id
            WHERE s.id = $1
            """,
            story_id,
        )
        if row is None:
            return None
        service = None
        if row["service_id"] is not None:
            service = ServiceRef(
                id=row["service_id"],
                name=row["service_name"] or row["service_id"],
                programme=row["service_programme"],
            )
        return Story(
            id=row["id"],
            title=row["title"],
            body=row["body"],
            organisation=OrganisationRef(id=row["organisation_id"], name=row["organisation_name"]),
            service=service,
            author=AuthorContact(
                display_name=row["author_name"] or None,
                relationship=Relationship(row["author_relationship"]),
                email=row["author_email"],
                notify_on_response=row["notify_on_response"],
            ),
            tags=Tags.model_validate_json(row["tags_text"]),
            experienced_at=row["experienced_at"],
            submitted_at=row["submitted_at"],
            author_token_hash=bytes(row["author_token_hash"]),
            source=Source(row["source"]),
            external_id=row["external_id"],
            assisted_by=row["assisted_by"],
            represents=Reach.model_validate_json(row["represents_text"]),
            safeguarding_level=row["safeguarding_level"],
            language=StoryLanguage(row["language"]),
            version=row["version"],
        )

    async def save_edit(self, story: Story) -> None:
        """The author's next version: the new text, waiting for a moderator again."""
        await self._conn.execute(
            """
            UPDATE stories SET title = $2, body = $3, organisation_id = $4, service_id = $5,
                   tags = $6::jsonb, experienced_at = $7, safeguarding_level = $8,
                   version = $9, status = 'submitted', rejected_at = NULL,
                   rejection_reason = NULL, language = $10
            WHERE id = $1
            """,
            story.id,
            story.title,
            story.body,
            story.organisation.id,
            story.service.id if story.service else None,
            json.dumps(story.tags.model_dump()),
            story.experienced_at,
            story.safeguarding_level,
            story.version,
            story.language.value,
        )

    async def mark_published(self, story_id: UUID, published_at: datetime, revision: int) -> None:
        # A withdrawn story stays withdrawn, and an older revision never overwrites a newer.
        await self._conn.execute(
            """
            UPDATE stories SET status = 'published', published_at = $2, revision = $3
            WHERE id = $1 AND status <> 'withdrawn' AND revision < $3
            """,
            story_id,
            published_at,
            revision,
        )

    async def record_publication(self, event: StoryApproved) -> None:
        await self.record_publications([event])

    async def record_publications(self, events: Sequence[StoryApproved]) -> None:
        """Published, with the text as published (what staff see), the newest revision
        only; in the order given, in one statement."""
        await self._conn.executemany(
            """
            UPDATE stories SET status = 'published', published_at = $2, revision = $3,
                   published_title = $4, published_body = $5, published_service_id = $6,
                   published_service_name = $7, criticality = $8
            WHERE id = $1 AND status <> 'withdrawn' AND revision < $3
            """,
            [
                (
                    event.story_id,
                    event.published_at,
                    event.revision,
                    event.title,
                    event.body,
                    event.service.id if event.service else None,
                    event.service.name if event.service else None,
                    event.criticality,
                )
                for event in events
            ],
        )

    async def mark_rejected(
        self, story_id: UUID, rejected_at: datetime, reason: RejectionReason, version: int = 1
    ) -> None:
        # A rejection of a version the author has since replaced is out of date: the
        # newer version waits for a moderator. A published story stays published.
        await self._conn.execute(
            """
            UPDATE stories SET status = 'rejected', rejected_at = $2, rejection_reason = $3
            WHERE id = $1 AND status IN ('submitted', 'rejected') AND version <= $4
            """,
            story_id,
            rejected_at,
            reason.value,
            version,
        )

    async def mark_withdrawn(self, story_id: UUID, withdrawn_at: datetime) -> None:
        """Withdrawn: keep only what the status page needs; the text, the contact and the
        provenance go. Kept: the source's category (web, healthwatch, ...: nobody's data)
        and, for an imported story, a digest of its entry that stops a re-import."""
        imported = await self._conn.fetchrow(
            "SELECT source, external_id FROM stories WHERE id = $1 AND external_id IS NOT NULL",
            story_id,
        )
        await self._conn.execute(
            """
            UPDATE stories SET status = 'withdrawn', withdrawn_at = $2, title = '', body = '',
                   author_name = '', author_email = NULL, notify_on_response = false,
                   tags = '{}'::jsonb, experienced_at = NULL, import_digest = $3,
                   external_id = NULL, assisted_by = NULL, represents = DEFAULT,
                   safeguarding_level = NULL, published_title = NULL, published_body = NULL
            WHERE id = $1
            """,
            story_id,
            withdrawn_at,
            import_digest(imported["source"], imported["external_id"]) if imported else None,
        )
        await self._conn.execute("UPDATE responses SET body = '' WHERE story_id = $1", story_id)

    async def published(self, story_id: UUID) -> PublishedStory | None:
        row = await self._conn.fetchrow(
            _PUBLISHED + " WHERE id = $1 AND status = 'published'", story_id
        )
        return _published(row) if row is not None else None

    async def inbox(self, query: InboxQuery) -> InboxPage:
        """One page of the organisation's published stories, unanswered ones first."""
        params = (query.organisation_id, query.service_id, query.min_criticality, query.answered)
        total = await self._conn.fetchval(_INBOX_COUNT, *params)
        rows = await self._conn.fetch(_INBOX_PAGE, *params, query.page_size, query.offset)
        return InboxPage(stories=tuple(_published(r) for r in rows), total=int(total), query=query)


_RESPONSE = """
    SELECT id, story_id, organisation_id, responder_name, responder_role, responder_subject,
           body, change, posted_at, version, edited_at, deleted_at
    FROM responses
"""


def _response(row: Any) -> StaffResponse:
    return StaffResponse(
        id=row["id"],
        story_id=row["story_id"],
        organisation_id=row["organisation_id"],
        responder=Responder(display_name=row["responder_name"], role=row["responder_role"]),
        responder_subject=row["responder_subject"],
        body=row["body"],
        change=ChangeMarker(row["change"]) if row["change"] else None,
        posted_at=row["posted_at"],
        version=row["version"],
        edited_at=row["edited_at"],
        deleted_at=row["deleted_at"],
    )


class PostgresResponses:
    """Staff responses to published stories, newest version of each."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def ids(self, story_id: UUID) -> list[UUID]:
        rows = await self._conn.fetch(
            "SELECT id FROM responses WHERE story_id = $1 ORDER BY id", story_id
        )
        return [r["id"] for r in rows]

    async def add(self, response_id: UUID, command: PostResponse, posted_at: datetime) -> None:
        await self._conn.execute(
            """
            INSERT INTO responses (id, story_id, organisation_id, responder_name,
                                   responder_role, responder_subject, body, change, posted_at)
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
        await self._conn.execute(
            "UPDATE stories SET response_count = response_count + 1 WHERE id = $1",
            command.story_id,
        )

    async def get(
        self, story_id: UUID, response_id: UUID, *, for_update: bool = False
    ) -> StaffResponse | None:
        sql = _RESPONSE + " WHERE id = $1 AND story_id = $2" + (" FOR UPDATE" if for_update else "")
        row = await self._conn.fetchrow(sql, response_id, story_id)
        return _response(row) if row is not None else None

    async def standing(self, story_id: UUID) -> list[StaffResponse]:
        """The story's responses still standing, oldest first."""
        rows = await self._conn.fetch(
            _RESPONSE + " WHERE story_id = $1 AND deleted_at IS NULL ORDER BY posted_at, id",
            story_id,
        )
        return [_response(r) for r in rows]

    async def save_version(self, response: StaffResponse, *, deleted: bool) -> None:
        """Store a new version of a response (a deleted one keeps no text)."""
        await self._conn.execute(
            """
            UPDATE responses SET body = $2, change = $3, responder_name = $4,
                   responder_role = $5, version = $6, edited_at = $7::timestamptz,
                   deleted_at = CASE WHEN $8 THEN $7::timestamptz END
            WHERE id = $1
            """,
            response.id,
            "" if deleted else response.body,
            response.change.value if response.change and not deleted else None,
            response.responder.display_name,
            response.responder.role,
            response.version,
            response.edited_at,
            deleted,
        )
        if deleted:
            await self._conn.execute(
                "UPDATE stories SET response_count = greatest(response_count - 1, 0) WHERE id = $1",
                response.story_id,
            )
