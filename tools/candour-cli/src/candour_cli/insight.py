"""`candour insight themes rebuild`: find the themes of each programme again.

Reads the search service's settings from the environment (CANDOUR_DATABASE_URL is
search's own database). The search service also does this on its own schedule
(CANDOUR_INSIGHT_THEMES_EVERY_HOURS); names and merges people gave themes carry on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console

from candour_cli import voices
from candour_common.db.pool import create_pool
from candour_common.db.uow import UnitOfWorkFactory
from candour_common.logging import configure_logging
from candour_common.runtime import migrate_database
from candour_common.startup import command_settings_or_exit
from candour_search.adapters.theme_finder import find_here
from candour_search.bootstrap import MIGRATIONS
from candour_search.service_layer.themes import Rebuilt, rebuild_themes
from candour_search.service_layer.unit_of_work import PostgresSearchUnitOfWork
from candour_search.settings import SearchSettings
from candour_search.themes import ThemeModel

app = typer.Typer(help="Insight for commissioners.", no_args_is_help=True)
themes_app = typer.Typer(help="Themes in what people say.", no_args_is_help=True)
app.add_typer(themes_app, name="themes")
app.add_typer(voices.app, name="voices")


async def _rebuild(
    settings: SearchSettings, programme: str | None, count: int | None, console: Console
) -> list[Rebuilt]:
    dsn = settings.database_url.get_secret_value()
    await migrate_database(dsn, MIGRATIONS)
    pool = await create_pool(dsn, max_size=2)
    started = time.perf_counter()

    async def find(texts: Sequence[str]) -> ThemeModel:
        return await find_here(texts, seed=settings.insight_themes_seed, count=count)

    try:
        return await rebuild_themes(
            UnitOfWorkFactory(pool, PostgresSearchUnitOfWork, "search"),
            find,
            programme=programme,
            progress=lambda line: console.print(f"[{time.perf_counter() - started:6.1f}s] {line}"),
        )
    finally:
        await pool.close()


@themes_app.command("rebuild")
def rebuild(
    programme: Annotated[
        str | None, typer.Option(help="Only this programme (e.g. mental-health); default: each.")
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(min=2, max=60, help="How many themes; default: as many as the text supports."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="Level of the logs written to stderr.")] = (
        "WARNING"
    ),
) -> None:
    """Find the themes of published stories and feedback again, programme by programme."""
    configure_logging("candour-insight-themes", level=log_level, json=False)
    console = Console(stderr=True)
    results = asyncio.run(
        _rebuild(
            command_settings_or_exit(SearchSettings, "candour insight"), programme, count, console
        )
    )
    if not results:
        console.print("No published entries: nothing to find themes in.")
    for r in results:
        console.print(
            f"{r.programme or '(no programme)'}: {r.themes} themes from {r.entries:,} entries "
            f"({r.carried_on} carried on from the last run) in {r.seconds:.1f} s"
        )
