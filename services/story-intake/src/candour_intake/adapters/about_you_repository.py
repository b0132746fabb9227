"""asyncpg persistence of the "about you" answers: their own table, apart from the story."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from candour_common.about_you import Characteristic
from candour_common.db import Connection
from candour_intake.domain import AboutYou
from candour_intake.voices import AnswerCount


async def add(conn: Connection, story_id: UUID, about_you: AboutYou) -> None:
    await conn.execute(
        """
        INSERT INTO about_you (story_id, age_band, sex, ethnic_group, disability)
        VALUES ($1, $2, $3, $4, $5)
        """,
        story_id,
        about_you.age_band,
        about_you.sex,
        about_you.ethnic_group,
        about_you.disability,
    )


async def erase(conn: Connection, story_id: UUID) -> None:
    await conn.execute("DELETE FROM about_you WHERE story_id = $1", story_id)


async def programmes(conn: Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT programme FROM services WHERE programme IS NOT NULL ORDER BY 1"
    )
    return [r["programme"] for r in rows]


async def answer_counts(conn: Connection) -> list[AnswerCount]:
    """Per programme (of the story's service as published, else as chosen), question and
    answer: how many stories neither withdrawn nor rejected carry it. Rejected ones are
    not voices the programme hears (spam, duplicates, not about care)."""
    rows = await conn.fetch(
        """
        SELECT sv.programme, a.characteristic, a.answer, count(*)::int AS stories
        FROM about_you y
        JOIN stories s ON s.id = y.story_id
        JOIN services sv ON sv.id = coalesce(s.published_service_id, s.service_id)
        CROSS JOIN LATERAL (VALUES ('age_band', y.age_band), ('sex', y.sex),
                                   ('ethnic_group', y.ethnic_group),
                                   ('disability', y.disability)) AS a (characteristic, answer)
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


async def last_published(conn: Connection) -> datetime | None:
    at = await conn.fetchval("SELECT max(published_at) FROM voices_publications")
    return at if isinstance(at, datetime) else None


async def mark_published(conn: Connection, programmes: list[str], at: datetime) -> None:
    await conn.executemany(
        """
        INSERT INTO voices_publications (programme, published_at) VALUES ($1, $2)
        ON CONFLICT (programme) DO UPDATE SET published_at = EXCLUDED.published_at
        """,
        [(p, at) for p in programmes],
    )
