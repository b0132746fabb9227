"""`candour import feedback FILE.csv --source healthwatch`: feedback from other sources.

Each row goes through the same pipeline as a story typed into the web form
(story.submitted, moderated before publication), idempotent by (source,
external_id), so re-running an import creates nothing twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from candour_cli import databases
from candour_cli.services import BY_NAME
from candour_common.db.pool import create_pool
from candour_common.events import Source
from candour_intake.adapters.feedback_csv import FeedbackEntry, FeedbackFileError, parse_feedback
from candour_intake.bootstrap import units_of_work
from candour_intake.service_layer.handlers import (
    ImportSummary,
    check_feedback_against_directory,
    import_feedback,
)

app = typer.Typer(help="Import feedback from other sources.", no_args_is_help=True)
INTAKE = BY_NAME["story-intake"]


async def run_import(
    url: str, entries: list[FeedbackEntry], *, show_progress: bool
) -> ImportSummary:
    pool = await create_pool(url, max_size=2)
    try:
        new_uow = units_of_work(pool)
        errors = await check_feedback_against_directory(new_uow(), entries)
        if errors:
            raise FeedbackFileError(errors)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=not show_progress,
        ) as progress:
            task = progress.add_task("import", total=len(entries))
            return await import_feedback(
                new_uow, entries, progress=lambda done: progress.update(task, completed=done)
            )
    finally:
        await pool.close()


@app.command("feedback")
def feedback_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[Source, typer.Option(help="Where these entries came from.")],
    database_url: Annotated[
        str | None,
        typer.Option(help="story-intake's database (default as for `candour directory import`)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Validate every row (and its organisation/service), then import; report a summary."""
    url, _ = databases.resolve(INTAKE, explicit=database_url)
    try:
        entries = parse_feedback(file.read_text(encoding="utf-8-sig"), source=source)
        summary = asyncio.run(run_import(url, entries, show_progress=progress))
    except FeedbackFileError as exc:
        for error in exc.errors:
            typer.echo(f"{file}:{error.line}: {error.message}", err=True)
        typer.echo(f"rejected: {len(exc.errors)} bad row(s); nothing imported", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"imported {summary.imported}, already present {summary.already_present}, rejected 0"
    )
