"""asyncpg persistence of the newest voices summary per programme."""

from __future__ import annotations

from candour_common.db import Connection
from candour_common.events import VoicesSummarised


async def save(conn: Connection, summary: VoicesSummarised) -> None:
    """Keep `summary` unless a newer one of its programme is already kept."""
    await conn.execute(
        """
        INSERT INTO voices_summaries (programme, summarised_at, summary)
        VALUES ($1, $2, $3::jsonb)
        ON CONFLICT (programme) DO UPDATE
            SET summarised_at = EXCLUDED.summarised_at, summary = EXCLUDED.summary
            WHERE voices_summaries.summarised_at <= EXCLUDED.summarised_at
        """,
        summary.programme,
        summary.summarised_at,
        summary.model_dump_json(),
    )


async def get(conn: Connection, programme: str) -> VoicesSummarised | None:
    text = await conn.fetchval(
        "SELECT summary::text FROM voices_summaries WHERE programme = $1", programme
    )
    return VoicesSummarised.model_validate_json(text) if text is not None else None
