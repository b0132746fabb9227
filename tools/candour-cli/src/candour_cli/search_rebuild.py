"""`candour search rebuild`: rebuild the search index by replaying the public topics.

Reads the search service's settings from the environment: CANDOUR_DATABASE_URL (search's
own database), CANDOUR_KAFKA_BOOTSTRAP (and the CANDOUR_KAFKA_SASL_*/SSL_* settings)
and CANDOUR_TOPIC_PREFIX. The running search
service keeps answering from the old index until the switch; see
candour_search.service_layer.rebuild for how nothing consumed meanwhile is lost.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from candour_cli.kafka_errors import kafka_errors_explained
from candour_common.logging import configure_logging
from candour_common.runtime import migrate_database
from candour_common.startup import command_settings_or_exit
from candour_search.bootstrap import MIGRATIONS
from candour_search.service_layer.rebuild import (
    RebuildInProgress,
    RebuildProgress,
    RebuildResult,
    rebuild_index,
)
from candour_search.settings import SearchSettings

app = typer.Typer(help="The search index.", no_args_is_help=True)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--"
    return str(timedelta(seconds=round(seconds)))


class ProgressBar:
    """Shows RebuildProgress reports as a rich progress bar with events/s and ETA."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task(
            "starting", total=None, rate="0", eta=format_eta(None)
        )

    def __call__(self, report: RebuildProgress) -> None:
        self.progress.update(
            self.task,
            description=report.phase.value,
            completed=report.events_done,
            total=report.events_total or None,
            rate=f"{report.events_per_second:,.0f}",
            eta=format_eta(report.eta_seconds),
        )


async def _rebuild(settings: SearchSettings, console: Console) -> RebuildResult:
    dsn = settings.database_url.get_secret_value()
    await migrate_database(dsn, MIGRATIONS)  # a fresh database gets the live tables to clone
    with Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} events/s"),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        return await rebuild_index(
            dsn,
            settings.kafka_connection(),
            settings.topics,
            on_progress=ProgressBar(progress),
        )


@app.command("rebuild")
def rebuild(
    log_level: Annotated[str, typer.Option(help="Level of the logs written to stderr.")] = (
        "WARNING"
    ),
) -> None:
    """Build a fresh index from story.approved, response.posted and story.withdrawn, from
    the beginning, then switch the search service to it and drop the old one."""
    settings = command_settings_or_exit(SearchSettings, "candour search rebuild")
    configure_logging("candour-search-rebuild", level=log_level, json=False)
    console = Console(stderr=True)
    try:
        with kafka_errors_explained(settings.kafka_connection()):
            result = asyncio.run(_rebuild(settings, console))
    except RebuildInProgress as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(
        f"Rebuilt the search index from {result.events_applied:,} events in "
        f"{result.seconds:,.1f}s (consumer group {result.group_id})."
    )
    if result.documents_reused:
        console.print(
            f"Kept the live documents of {result.documents_reused:,} unchanged stories"
            " (made by the same text search recipe)."
        )
    if result.steps:
        console.print(
            "Steps: "
            + ", ".join(f"{step} {seconds:,.1f}s" for step, seconds in result.steps.items())
        )
    for message in result.unreadable:
        console.print(
            f"[yellow]skipped unreadable message[/yellow] {message.topic}"
            f"[{message.partition}]@{message.offset}: {message.error}"
        )
