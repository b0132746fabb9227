"""`candour insight voices publish`: publish whose voices each programme hears, now.

Story-intake does this on its own schedule (CANDOUR_VOICES_SUMMARY_EVERY_HOURS, daily by
default); this puts a summary per programme (counts of "about you" answers, counts under
5 suppressed) in intake's outbox at once, and intake's relay publishes it on
insight.voices for search's deep dive.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from candour_cli import databases
from candour_cli.services import BY_NAME
from candour_common.db.pool import create_pool
from candour_intake.bootstrap import units_of_work
from candour_intake.service_layer.voices import publish_voices

app = typer.Typer(help="Whose voices each programme hears.", no_args_is_help=True)
INTAKE = BY_NAME["story-intake"]


async def publish_now(url: str) -> list[str]:
    pool = await create_pool(url, max_size=1)
    try:
        return await publish_voices(units_of_work(pool)())
    finally:
        await pool.close()


@app.command("publish")
def publish(
    database_url: Annotated[
        str | None,
        typer.Option(help="story-intake's database (default as for `candour directory import`)."),
    ] = None,
) -> None:
    """Count the answers per programme and publish the summaries now."""
    url, _ = databases.resolve(INTAKE, explicit=database_url)
    programmes = asyncio.run(publish_now(url))
    if not programmes:
        typer.echo("no programmes in the directory: nothing to publish")
        return
    typer.echo(
        f"published the voices summary of {len(programmes)} programme(s) "
        f"({', '.join(programmes)}); intake's relay sends them to insight.voices"
    )
