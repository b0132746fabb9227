"""Moderation's tables on asyncpg: the queue, its audit trail, withdrawals, moderators'
screening feedback and safeguarding escalations.

Each repository works on the connection of the unit of work that made it
(`service_layer.unit_of_work`), so a queue change, its audit lines, its outbox
events and its inbox entries commit together or not at all. Writes that a
consumer's batch makes for many stories at once take a sequence and send one
statement (`executemany`, `= ANY($1)`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from candour_common.db import Connection
from candour_common.events import (
    OrganisationRef,
    PublicAuthor,
    Relationship,
    SafeguardingTrigger,
    ServiceRef,
    StoryLanguage,
    Tags,
)
from candour_moderation.domain.escalations import Escalation
from candour_moderation.domain.feedback import ScreeningFeedback, Verdict
from candour_moderation.domain.model import (
    AuditEntry,
    Provenance,
    QueueItem,
    QueuePosition,
    Status,
)
from candour_screening import SafeguardingCategory, SafeguardingLevel, Screening

_COLUMNS = """
    story_id, status, priority_rank, organisation::text AS organisation, service::text AS service,
    submitted_at, title, body, author_display_name, author_relationship,
    screening::text AS screening, tags::text AS tags, experienced_at, claimed_by,
    claim_expires_at, decided_by, decided_at, withdrawn_at, provenance::text AS provenance,
    language, version
"""


class PostgresQueue:
    """The queue: one row per submitted story, in any status."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, story_id: UUID, *, for_update: bool = False) -> QueueItem | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM queue_items WHERE story_id = $1{lock}",  # noqa: S608
            story_id,
        )
        return _item(row) if row is not None else None

    async def existing(self, story_ids: Sequence[UUID]) -> set[UUID]:
        rows = await self._conn.fetch(
            "SELECT story_id FROM queue_items WHERE story_id = ANY($1::uuid[])", list(story_ids)
        )
        return {r["story_id"] for r in rows}

    async def add_many(self, items: Sequence[QueueItem]) -> None:
        if not items:
            return
        await self._conn.executemany(
            """
            INSERT INTO queue_items (story_id, status, priority_rank, organisation, service,
                                     submitted_at, title, body, author_display_name,
                                     author_relationship, screening, tags, experienced_at,
                                     provenance, decided_by, decided_at, language, version)
            VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10, $11::jsonb,
                    $12::jsonb, $13, $14::jsonb, $15, $16, $17, $18)
            """,
            [
                (
                    item.story_id,
                    item.status.value,
                    item.priority_rank,
                    item.organisation.model_dump_json(),
                    item.service.model_dump_json() if item.service else None,
                    item.submitted_at,
                    item.title,
                    item.body,
                    item.author.display_name if item.author else None,
                    item.author.relationship.value if item.author else None,
                    json.dumps(screening_to_json(item.screening)) if item.screening else None,
                    item.tags.model_dump_json(),
                    item.experienced_at,
                    item.provenance.model_dump_json(),
                    item.decided_by,
                    item.decided_at,
                    item.language.value,
                    item.version,
                )
                for item in items
            ],
        )

    async def save(self, item: QueueItem) -> None:
        await self._conn.execute(
            """
            UPDATE queue_items
            SET status = $2, title = $3, body = $4, author_display_name = $5,
                author_relationship = $6, screening = $7::jsonb, tags = $8::jsonb,
                experienced_at = $9, claimed_by = $10, claim_expires_at = $11,
                decided_by = $12, decided_at = $13, withdrawn_at = $14, language = $15,
                provenance = CASE WHEN $2 = 'withdrawn' THEN NULL ELSE provenance END,
                priority_rank = $16, organisation = $17::jsonb, service = $18::jsonb,
                version = $19
            WHERE story_id = $1
            """,
            item.story_id,
            item.status.value,
            item.title,
            item.body,
            item.author.display_name if item.author else None,
            item.author.relationship.value if item.author else None,
            json.dumps(screening_to_json(item.screening)) if item.screening else None,
            item.tags.model_dump_json() if item.status is not Status.WITHDRAWN else None,
            item.experienced_at,
            item.claimed_by,
            item.claim_expires_at,
            item.decided_by,
            item.decided_at,
            item.withdrawn_at,
            item.language.value,
            item.priority_rank,
            item.organisation.model_dump_json(),
            item.service.model_dump_json() if item.service else None,
            item.version,
        )

    async def page(
        self, status: Status, *, limit: int, after: QueuePosition | None = None
    ) -> list[QueueItem]:
        # The same order as QueuePosition: most urgent first, then oldest first.
        if after is None:
            rows = await self._conn.fetch(
                f"""
                SELECT {_COLUMNS} FROM queue_items WHERE status = $1
                ORDER BY priority_rank, submitted_at, story_id LIMIT $2
                """,  # noqa: S608
                status.value,
                limit,
            )
        else:
            rows = await self._conn.fetch(
                f"""
                SELECT {_COLUMNS} FROM queue_items
                WHERE status = $1 AND (priority_rank, submitted_at, story_id) > ($3, $4, $5)
                ORDER BY priority_rank, submitted_at, story_id LIMIT $2
                """,  # noqa: S608
                status.value,
                limit,
                after.priority_rank,
                after.submitted_at,
                after.story_id,
            )
        return [_item(r) for r in rows]

    async def pending_by_priority(self) -> dict[int, int]:
        rows = await self._conn.fetch(
            """
            SELECT priority_rank, count(*) AS n FROM queue_items
            WHERE status = 'pending' GROUP BY priority_rank
            """
        )
        return {int(r["priority_rank"]): int(r["n"]) for r in rows}


class PostgresAuditLog:
    """Who did what to which story, and when; read back in the order written."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, entry: AuditEntry) -> None:
        await self.add_many([entry])

    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        await self._conn.executemany(
            """
            INSERT INTO audit_log (story_id, at, actor, action, detail, automatic)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6)
            """,
            [
                (
                    e.story_id,
                    e.at,
                    e.actor,
                    e.action,
                    json.dumps(e.detail) if e.detail is not None else None,
                    e.automatic,
                )
                for e in entries
            ],
        )

    async def trail(self, story_id: UUID) -> list[AuditEntry]:
        rows = await self._conn.fetch(
            """
            SELECT story_id, at, actor, action, detail::text AS detail, automatic
            FROM audit_log WHERE story_id = $1 ORDER BY id
            """,
            story_id,
        )
        return [
            AuditEntry(
                story_id=r["story_id"],
                at=r["at"],
                actor=r["actor"],
                action=r["action"],
                detail=json.loads(r["detail"]) if r["detail"] is not None else None,
                automatic=r["automatic"],
            )
            for r in rows
        ]

    async def erase_details(self, story_id: UUID) -> None:
        await self._conn.execute("UPDATE audit_log SET detail = NULL WHERE story_id = $1", story_id)


class PostgresWithdrawals:
    """Stories their authors withdrew, so a late story.submitted is never stored."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def record(self, story_id: UUID, withdrawn_at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO withdrawals (story_id, withdrawn_at) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            story_id,
            withdrawn_at,
        )

    async def among(self, story_ids: Sequence[UUID]) -> set[UUID]:
        rows = await self._conn.fetch(
            "SELECT story_id FROM withdrawals WHERE story_id = ANY($1::uuid[])", list(story_ids)
        )
        return {r["story_id"] for r in rows}


class PostgresScreeningFeedback:
    """Moderators' corrections of screening's flags."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, feedback: ScreeningFeedback) -> None:
        await self._conn.execute(
            """
            INSERT INTO screening_feedback (story_id, at, moderator, verdict, category, level,
                                            field, match_start, match_end, text, note)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """,
            feedback.story_id,
            feedback.at,
            feedback.moderator,
            feedback.verdict.value,
            feedback.category.value,
            feedback.level.value,
            feedback.field,
            feedback.match_start,
            feedback.match_end,
            feedback.text,
            feedback.note,
        )

    async def on(self, story_id: UUID) -> list[ScreeningFeedback]:
        rows = await self._conn.fetch(
            """
            SELECT story_id, at, moderator, verdict, category, level, field, match_start,
                   match_end, text, note
            FROM screening_feedback WHERE story_id = $1 ORDER BY id
            """,
            story_id,
        )
        return [
            ScreeningFeedback(
                story_id=r["story_id"],
                at=r["at"],
                moderator=r["moderator"],
                verdict=Verdict(r["verdict"]),
                category=SafeguardingCategory(r["category"]),
                level=SafeguardingLevel(r["level"]),
                field=r["field"],
                match_start=r["match_start"],
                match_end=r["match_end"],
                text=r["text"],
                note=r["note"],
            )
            for r in rows
        ]

    async def stories(self) -> list[UUID]:
        rows = await self._conn.fetch(
            """
            SELECT f.story_id FROM screening_feedback f
            JOIN queue_items q ON q.story_id = f.story_id
            WHERE q.status <> 'withdrawn'
            GROUP BY f.story_id ORDER BY min(f.id)
            """
        )
        return [r["story_id"] for r in rows]

    async def erase(self, story_id: UUID) -> None:
        await self._conn.execute("DELETE FROM screening_feedback WHERE story_id = $1", story_id)


class PostgresEscalations:
    """Safeguarding escalations: who raised each, and what notifications reported back."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, escalation: Escalation) -> None:
        await self._conn.execute(
            """
            INSERT INTO escalations (escalation_id, story_id, raised_at, trigger, raised_by, note)
            VALUES ($1, $2, $3, $4, $5, $6)
            """,
            escalation.escalation_id,
            escalation.story_id,
            escalation.raised_at,
            escalation.trigger.value,
            escalation.raised_by,
            escalation.note,
        )

    async def get(self, escalation_id: UUID, *, for_update: bool = False) -> Escalation | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT * FROM escalations WHERE escalation_id = $1{lock}",  # noqa: S608
            escalation_id,
        )
        return _escalation(row) if row is not None else None

    async def save(self, escalation: Escalation) -> None:
        await self._conn.execute(
            """
            UPDATE escalations
            SET alerted_at = $2, alerted_to = $3, to_duty_moderators = $4,
                acknowledged_at = $5, acknowledged_by = $6, realerted_at = $7, realerted_to = $8
            WHERE escalation_id = $1
            """,
            escalation.escalation_id,
            escalation.alerted_at,
            list(escalation.alerted_to),
            escalation.to_duty_moderators,
            escalation.acknowledged_at,
            escalation.acknowledged_by,
            escalation.realerted_at,
            list(escalation.realerted_to),
        )

    async def of(self, story_id: UUID) -> list[Escalation]:
        rows = await self._conn.fetch(
            "SELECT * FROM escalations WHERE story_id = $1 ORDER BY raised_at, escalation_id",
            story_id,
        )
        return [_escalation(r) for r in rows]

    async def erase_notes(self, story_id: UUID) -> list[UUID]:
        """Drop the moderators' notes of the story's escalations (ids, states and times
        stay); the ids of its escalations."""
        rows = await self._conn.fetch(
            "UPDATE escalations SET note = NULL WHERE story_id = $1 RETURNING escalation_id",
            story_id,
        )
        return sorted(r["escalation_id"] for r in rows)


def _escalation(row: asyncpg.Record) -> Escalation:
    return Escalation(
        escalation_id=row["escalation_id"],
        story_id=row["story_id"],
        raised_at=row["raised_at"],
        trigger=SafeguardingTrigger(row["trigger"]),
        raised_by=row["raised_by"],
        note=row["note"],
        alerted_at=row["alerted_at"],
        alerted_to=tuple(row["alerted_to"]),
        to_duty_moderators=row["to_duty_moderators"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        realerted_at=row["realerted_at"],
        realerted_to=tuple(row["realerted_to"]),
    )


def _item(row: asyncpg.Record) -> QueueItem:
    author = None
    if row["author_relationship"] is not None:  # an anonymous author has no name
        author = PublicAuthor(
            display_name=row["author_display_name"],
            relationship=Relationship(row["author_relationship"]),
        )
    return QueueItem(
        story_id=row["story_id"],
        status=Status(row["status"]),
        organisation=OrganisationRef.model_validate_json(row["organisation"]),
        service=ServiceRef.model_validate_json(row["service"]) if row["service"] else None,
        submitted_at=row["submitted_at"],
        priority_rank=row["priority_rank"],
        title=row["title"],
        body=row["body"],
        author=author,
        screening=screening_from_json(json.loads(row["screening"])) if row["screening"] else None,
        tags=Tags.model_validate_json(row["tags"]) if row["tags"] else Tags(),
        experienced_at=row["experienced_at"],
        claimed_by=row["claimed_by"],
        claim_expires_at=row["claim_expires_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        withdrawn_at=row["withdrawn_at"],
        provenance=(
            Provenance.model_validate_json(row["provenance"]) if row["provenance"] else Provenance()
        ),
        language=StoryLanguage(row["language"]),
        version=row["version"],
    )


def screening_to_json(screening: Screening) -> dict[str, Any]:
    return screening.to_json()


def screening_from_json(data: dict[str, Any]) -> Screening:
    """Reads today's form and the one stored before categories and reasons (tolerant)."""
    return Screening.from_json(data)
