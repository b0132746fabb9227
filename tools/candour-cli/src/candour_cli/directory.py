"""`candour directory import FILE.csv`: load organisations and services (ODS codes).

Story-intake owns the directory. The import writes intake's database only, and in the
same transaction puts every organisation on `directory.organisations` (through intake's
outbox: intake's relay publishes them once it runs); notifications and search keep
their own copies from that topic.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from candour_cli import databases
from candour_cli.services import BY_NAME
from candour_common.db.pool import create_pool
from candour_common.runtime import migrate_database
from candour_intake.adapters.directory_csv import DirectoryFileError, parse_directory
from candour_intake.bootstrap import units_of_work
from candour_intake.domain import Organisation
from candour_intake.service_layer.handlers import import_directory, publish_directory

app = typer.Typer(help="The organisation directory (story-intake's database).")
INTAKE = BY_NAME["story-intake"]


def read_directory(path: Path) -> list[Organisation]:
    """Every row validated first: DirectoryFileError lists each bad line, nothing partial."""
    return parse_directory(path.read_text(encoding="utf-8-sig"))


async def load_directory(url: str, organisations: list[Organisation], *, create: bool) -> int:
    """Import all organisations in one transaction (all or nothing)."""
    if create:
        await databases.ensure_database(url)
    await migrate_database(url, INTAKE.migrations_package)
    pool = await create_pool(url, max_size=1)
    try:
        return await import_directory(units_of_work(pool)(), organisations)
    finally:
        await pool.close()


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file.")
    ],
    database_url: Annotated[
        str | None,
        typer.Option(
            help="story-intake's database (default: CANDOUR_STORY_INTAKE_DATABASE_URL, "
            "else CANDOUR_DATABASE_URL's server, database candour_intake)."
        ),
    ] = None,
) -> None:
    """Validate every row, then import all of them or none.

    Columns: organisation_id (ODS code), organisation_name, organisation_type,
    service_id, service_name; optionally programme, organisation_name_cy and
    service_name_cy (Welsh names) and email_language (en, cy or bilingual; en when
    empty); one row per service.
    """
    try:
        organisations = read_directory(file)
    except DirectoryFileError as exc:
        for error in exc.errors:
            typer.echo(f"{file}:{error.line}: {error.message}", err=True)
        typer.echo(f"{len(exc.errors)} bad row(s): nothing imported", err=True)
        raise typer.Exit(1) from exc
    url, derived = databases.resolve(INTAKE, explicit=database_url)
    count = asyncio.run(load_directory(url, organisations, create=derived))
    services = sum(len(o.services) for o in organisations)
    typer.echo(
        f"imported {count} organisations, {services} services; story-intake publishes the "
        "directory on directory.organisations"
    )


async def republish(url: str) -> int:
    await migrate_database(url, INTAKE.migrations_package)
    pool = await create_pool(url, max_size=1)
    try:
        return await publish_directory(units_of_work(pool)())
    finally:
        await pool.close()


@app.command("publish")
def publish_command(
    database_url: Annotated[
        str | None,
        typer.Option(
            help="story-intake's database (default: CANDOUR_STORY_INTAKE_DATABASE_URL, "
            "else CANDOUR_DATABASE_URL's server, database candour_intake)."
        ),
    ] = None,
) -> None:
    """Publish the directory intake holds on directory.organisations again, unchanged
    (for a directory imported before the topic existed; an import publishes it too)."""
    url, _ = databases.resolve(INTAKE, explicit=database_url)
    count = asyncio.run(republish(url))
    typer.echo(f"{count} organisations queued on directory.organisations")
