"""asyncpg persistence of the "about you" answers: their own table, apart from the story,
and when each programme's summary of them was last published."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from candour_common.about_you import Characteristic
from candour_common.db import Connection
from candour_intake.domain import AboutYou
from candour_intake.voices import AnswerCount

# Copies of intake publishing at the same moment take turns (the second then finds the
# summary fresh and publishes nothing).
_PUBLISH_LOCK_KEY = 0x564F49434553  # "VOICES"


class PostgresAboutYou:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, story_id: UUID, about_you: AboutYou) -> None:
        await self.add_many([(story_id, about_you)])

    async def add_many(self, answers: Sequence[tuple[UUID, AboutYou]]) -> None:
        await self._conn.executemany(
            """
            INSERT INTO about_you (story_id, age_band, sex, ethnic_group, disability)
            VALUES ($1, $2, $3, $4, $5)
            """,
            [(s, a.age_band, a.sex, a.ethnic_group, a.disability) for s, a in answers],
        )

    async def erase(self, story_id: UUID) -> None:
        await self._conn.execute("DELETE FROM about_you WHERE story_id = $1", story_id)

    async def programmes(self) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT programme FROM services WHERE programme IS NOT NULL ORDER BY 1"
        )
        return [r["programme"] for r in rows]

    async def answer_counts(self) -> list[AnswerCount]:
        """Per programme (of the story's service as published, else as chosen), question
        and answer: how many stories neither withdrawn nor rejected carry it. Rejected ones
        are not voices the programme hears (spam, duplicates, not about care)."""
        rows = await self._conn.fetch(
            """
            SELECT sv.programme, a.characteristic, a.answer, count(*)::int AS stories
            FROM about_you y
            JOIN stories s ON s.id = y.story_id
            JOIN services sv ON sv.id = coalesce(s.published_service_id, s.service_id)
            CROSS JOIN LATERAL (VALUES ('age_band', y.age_band), ('sex', y.sex),
                                       ('ethnic_group', y.ethnic_group),
                                       ('disability', y.disability))
                AS a (characteristic, answer)
            WHERE a.answer IS NOT NULL AND sv.programme IS NOT NULL
              AND s.status NOT IN ('withdrawn', 'rejected')
            GROUP BY 1, 2, 3
            """
        )
        return [
            AnswerCount(
                programme=r["programme"],
                characteristic=Characteristic(r["characteristic"]),
                answer=r["answer"],
                stories=r["stories"],
            )
            for r in rows
        ]

    async def lock_publishing(self) -> None:
        """Take the publishing turn until the transaction ends."""
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _PUBLISH_LOCK_KEY)

    async def last_published(self) -> datetime | None:
        at = await self._conn.fetchval("SELECT max(published_at) FROM voices_publications")
        return at if isinstance(at, datetime) else None

    async def mark_published(self, programmes: list[str], at: datetime) -> None:
        await self._conn.executemany(
            """
            INSERT INTO voices_publications (programme, published_at) VALUES ($1, $2)
            ON CONFLICT (programme) DO UPDATE SET published_at = EXCLUDED.published_at
            """,
            [(p, at) for p in programmes],
        )
